"""Load a trained model (.ckpt, .onnx or TorchScript) ready to run on float 0..255 RGB batches.

Every model takes (N, 3, H, W) float 0..255 RGB and returns class logits (N, C, H, W): the input
normalization is inside checkpoints and exports alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from drone_seg.errors import ConfigError
from drone_seg.models.module import SegmentationModule

log = logging.getLogger(__name__)

# Key of the JSON metadata ({"size": [height, width]}) that exports carry.
METADATA_KEY = "drone_seg"
TORCHSCRIPT_SUFFIXES: frozenset[str] = frozenset({".pt", ".pth", ".ts", ".torchscript"})


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to run: `run` maps a float batch on `device` to logits on `device`.

    `size` is the (height, width) the model was validated at, when the file or its run tells.
    """

    run: Callable[[torch.Tensor], torch.Tensor]
    device: torch.device
    size: tuple[int, int] | None


def resolve_device(name: str) -> torch.device:
    """Map `auto` to the GPU when there is one, else the CPU; other names go to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"device={name} is not a device: use auto, cpu or cuda[:N]") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but no CUDA GPU is available: use device=cpu")
    return device


def load_model(path: Path, device: str) -> LoadedModel:
    """Load a Lightning checkpoint, an ONNX file (run on CPU) or a TorchScript file."""
    if not path.is_file():
        raise ConfigError(f"ckpt_path={path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".ckpt":
        target = resolve_device(device)
        module = load_checkpoint(path, target)
        return LoadedModel(module, target, checkpoint_size(path))
    if suffix == ".onnx":
        return _load_onnx(path)
    if suffix in TORCHSCRIPT_SUFFIXES:
        return _load_torchscript(path, resolve_device(device))
    raise ConfigError(
        f"ckpt_path={path}: expected a .ckpt checkpoint, an .onnx file or a TorchScript "
        f"({', '.join(sorted(TORCHSCRIPT_SUFFIXES))}) file"
    )


def load_checkpoint(path: Path, device: torch.device) -> SegmentationModule:
    """Rebuild the module of a training checkpoint in eval mode, downloading no weights."""
    checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    model = {
        **checkpoint["hyper_parameters"]["model"],
        "weights": None,
        "weights_backbone": None,
        "compile": False,
    }
    module = SegmentationModule.load_from_checkpoint(path, map_location=device, model=model)
    return for_inference(module)


def for_inference(module: SegmentationModule) -> SegmentationModule:
    """The module in eval mode without its auxiliary head, which only the training loss reads
    (torchvision's networks would otherwise compute it on every image)."""
    if getattr(module.net, "aux_classifier", None) is not None:
        module.net.aux_classifier = None
    return module.eval()


def checkpoint_size(path: Path) -> tuple[int, int] | None:
    """The validation (height, width) of the training run that wrote checkpoint `path`.

    Checkpoints do not hold the data config, so it is read from the run's `.hydra/config.yaml`
    (the checkpoint being `<run>/checkpoints/<name>.ckpt`); None when that is not there.
    """
    config = path.resolve().parent.parent / ".hydra" / "config.yaml"
    if not config.is_file():
        return None
    size = OmegaConf.select(OmegaConf.load(config), "augment.val_size")
    return (int(size[0]), int(size[1])) if size is not None else None


def metadata_json(size: tuple[int, int]) -> str:
    """The metadata an export carries, so that predicting with it needs no config."""
    return json.dumps({"size": list(size)})


def _metadata_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    height, width = json.loads(text)["size"]
    return int(height), int(width)


def _load_onnx(path: Path) -> LoadedModel:
    try:
        import onnxruntime
    except ImportError as error:
        raise ConfigError(f"ckpt_path={path} needs onnxruntime: pip install onnxruntime") from error
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run(images: torch.Tensor) -> torch.Tensor:
        array = images.detach().cpu().numpy().astype(np.float32, copy=False)
        return torch.from_numpy(session.run(None, {input_name: array})[0])

    metadata = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return LoadedModel(run, torch.device("cpu"), _metadata_size(metadata))


def _load_torchscript(path: Path, device: torch.device) -> LoadedModel:
    extra_files = {METADATA_KEY: ""}
    try:
        module = torch.jit.load(str(path), map_location=device, _extra_files=extra_files)
    except RuntimeError as error:
        raise ConfigError(f"ckpt_path={path} is not a TorchScript file ({error})") from error
    metadata = extra_files[METADATA_KEY]
    text = metadata.decode() if isinstance(metadata, bytes) else metadata
    return LoadedModel(module.eval(), device, _metadata_size(text))
