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

from drone_seg.classes import PALETTE
from drone_seg.errors import ConfigError
from drone_seg.runs.checkpoint import inference_network

log = logging.getLogger(__name__)

# Key of the JSON metadata ({"size": [height, width], "palette": [[r, g, b], ...]}) of exports.
METADATA_KEY = "drone_seg"
TORCHSCRIPT_SUFFIXES: frozenset[str] = frozenset({".pt", ".pth", ".ts", ".torchscript"})


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to run: `run` maps a float batch on `device` to logits on `device`.

    `size` is the (height, width) the model was validated at, when the file tells; `palette` the
    RGB colour of each class.
    """

    run: Callable[[torch.Tensor], torch.Tensor]
    device: torch.device
    size: tuple[int, int] | None
    palette: tuple[tuple[int, int, int], ...] = PALETTE


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
        network, record = inference_network(path, target)
        return LoadedModel(network, target, record.val_size, record.palette)
    if suffix == ".onnx":
        return _load_onnx(path)
    if suffix in TORCHSCRIPT_SUFFIXES:
        return _load_torchscript(path, resolve_device(device))
    raise ConfigError(
        f"ckpt_path={path}: expected a .ckpt checkpoint, an .onnx file or a TorchScript "
        f"({', '.join(sorted(TORCHSCRIPT_SUFFIXES))}) file"
    )


def metadata_json(size: tuple[int, int], palette: tuple[tuple[int, int, int], ...]) -> str:
    """The metadata an export carries, so that predicting with it needs no config."""
    return json.dumps({"size": list(size), "palette": [list(rgb) for rgb in palette]})


def _with_metadata(run: Callable, device: torch.device, text: str | None) -> LoadedModel:
    """A LoadedModel with the size and palette an export's metadata gives (JSON, data only)."""
    if not text:
        return LoadedModel(run, device, None)
    metadata = json.loads(text)
    height, width = metadata["size"]
    palette = tuple(tuple(int(c) for c in rgb) for rgb in metadata.get("palette", PALETTE))
    return LoadedModel(run, device, (int(height), int(width)), palette)


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
    return _with_metadata(run, torch.device("cpu"), metadata)


def _load_torchscript(path: Path, device: torch.device) -> LoadedModel:
    extra_files = {METADATA_KEY: ""}
    try:
        module = torch.jit.load(str(path), map_location=device, _extra_files=extra_files)
    except RuntimeError as error:
        raise ConfigError(f"ckpt_path={path} is not a TorchScript file ({error})") from error
    metadata = extra_files[METADATA_KEY]
    text = metadata.decode() if isinstance(metadata, bytes) else metadata
    return _with_metadata(module.eval(), device, text)
