"""Export a checkpoint to ONNX or TorchScript, checked against eager PyTorch.

    python -m drone_seg.export ckpt_path=FILE format=onnx|torchscript

The exported model takes float 0..255 RGB batches (N, 3, H, W) of any batch size and image size
and returns logits (N, 12, H, W): normalization is inside. The file (`model.onnx` / `model.pt`)
goes to the run directory, carries its default inference size for `drone_seg.predict`, and is
only reported done when its logits match eager PyTorch within `tolerance` on random inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from torch import nn

from drone_seg.config_checks import check_config
from drone_seg.errors import ConfigError, DroneSegError
from drone_seg.inference.loading import (
    METADATA_KEY,
    checkpoint_size,
    load_checkpoint,
    load_model,
    metadata_json,
)
from drone_seg.models.module import SegmentationModule
from drone_seg.train import CONFIG_DIR

log = logging.getLogger(__name__)

FILE_NAMES: dict[str, str] = {"onnx": "model.onnx", "torchscript": "model.pt"}


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and how far its logits are from eager PyTorch at worst."""

    path: Path
    max_difference: float


class _Traceable(nn.Module):
    """Runs the module's own forward from a plain nn.Module: torch.jit.trace probes every attribute
    of the modules it is given, and a LightningModule's `trainer` raises without a Trainer. The
    network and normalization buffers are registered here so the trace keeps them as weights."""

    def __init__(self, module: SegmentationModule) -> None:
        super().__init__()
        self.net = module.net
        self.register_buffer("pixel_mean", module.pixel_mean, persistent=False)
        self.register_buffer("pixel_std", module.pixel_std, persistent=False)
        self.forward_pass = module.forward

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_pass(images)


def export_onnx(module: SegmentationModule, example: torch.Tensor, path: Path, opset: int) -> None:
    """Write ONNX with dynamic batch, height and width, and the metadata predict reads."""
    try:
        import onnx
    except ImportError as error:
        raise ConfigError("format=onnx needs the onnx package: pip install onnx") from error
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=["images"],
        output_names=["logits"],
        opset_version=opset,
        dynamic_axes={
            "images": {0: "batch", 2: "height", 3: "width"},
            "logits": {0: "batch", 2: "height", 3: "width"},
        },
        dynamo=False,
    )
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {METADATA_KEY: metadata_json(example.shape[2:])})
    onnx.save(model, str(path))


def export_torchscript(module: SegmentationModule, example: torch.Tensor, path: Path) -> None:
    """Trace to TorchScript (shapes stay symbolic, so any batch and size run) with metadata."""
    with torch.no_grad():
        traced = torch.jit.trace(_Traceable(module).eval(), (example,), check_trace=False)
    metadata = metadata_json(example.shape[2:])
    torch.jit.save(traced, str(path), _extra_files={METADATA_KEY: metadata})


def random_images(shape: Iterable[int], generator: torch.Generator) -> torch.Tensor:
    """Random integer-valued float 0..255 images of (batch, height, width)."""
    batch, height, width = shape
    images = torch.randint(0, 256, (batch, 3, height, width), generator=generator)
    return images.float()


def check_export(
    path: Path, module: SegmentationModule, inputs: list[torch.Tensor], tolerance: float
) -> float:
    """Return the largest |logit difference| between the exported file, loaded as predict loads
    it, and the eager module on `inputs`; raise if it is above `tolerance`."""
    exported = load_model(path, "cpu")
    worst = 0.0
    with torch.no_grad():
        for images in inputs:
            difference = (exported.run(images).float() - module(images)).abs().max()
            worst = max(worst, float(difference))
    shapes = ", ".join("x".join(map(str, images.shape)) for images in inputs)
    log.info("Max |logit difference| vs eager PyTorch on %s: %.3g", shapes, worst)
    if not worst <= tolerance:
        raise DroneSegError(
            f"{path} differs from eager PyTorch by up to {worst:.3g} in logits, more than "
            f"tolerance={tolerance}: do not use it"
        )
    return worst


def export(cfg: DictConfig) -> ExportResult:
    """Export `cfg.ckpt_path` in `cfg.format` into the run directory and check it."""
    if cfg.format not in FILE_NAMES:
        raise ConfigError(f"format={cfg.format} is not one of {', '.join(FILE_NAMES)}")
    checkpoint = Path(cfg.ckpt_path)
    if not checkpoint.is_file():
        raise ConfigError(f"ckpt_path={checkpoint} does not exist")
    module = load_checkpoint(checkpoint, torch.device("cpu"))
    size = tuple(cfg.size) if cfg.size else checkpoint_size(checkpoint) or tuple(cfg.default_size)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    example = random_images((1, *size), generator)
    path = Path(cfg.paths.output_dir) / FILE_NAMES[cfg.format]
    path.parent.mkdir(parents=True, exist_ok=True)
    if cfg.format == "onnx":
        export_onnx(module, example, path, int(cfg.opset))
    else:
        export_torchscript(module, example, path)
    checks = [example, *(random_images(shape, generator) for shape in cfg.check_shapes)]
    return ExportResult(path, check_export(path, module, checks, float(cfg.tolerance)))


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    """Hydra entry point. User errors and failed checks end in one line and a non-zero exit."""
    try:
        check_config(cfg, "export")
        result = export(cfg)
    except DroneSegError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"Exported {result.path} (max |logit difference| vs eager: {result.max_difference:.3g})")


if __name__ == "__main__":
    main()
