"""Export a checkpoint to ONNX or TorchScript, checked against eager PyTorch.

    python -m drone_seg.export ckpt_path=FILE format=onnx|torchscript

The exported model takes float 0..255 RGB batches (N, 3, H, W) of any batch size and image size
and returns logits (N, 12, H, W): normalization is inside. The file (`model.onnx` / `model.pt`)
goes to the run directory, carries its default inference size for `drone_seg.predict`, and is
only reported done when its logits match eager PyTorch within `tolerance` on random inputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig

from drone_seg.cli import begin_run, command
from drone_seg.errors import ConfigError, DroneSegError
from drone_seg.inference.exporting import (
    export_difference,
    export_onnx,
    export_torchscript,
    random_images,
)
from drone_seg.runs.checkpoint import inference_network
from drone_seg.runs.run_log import show

log = logging.getLogger(__name__)

FILE_NAMES: dict[str, str] = {"onnx": "model.onnx", "torchscript": "model.pt"}


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and how far its logits are from eager PyTorch at worst."""

    path: Path
    max_difference: float


def export(cfg: DictConfig) -> ExportResult:
    """Export `cfg.ckpt_path` in `cfg.format` into the run directory and check it.

    The file is written under a temporary name and renamed only once it passes the check, so a
    failed export leaves no model file behind (and its error names none).
    """
    if cfg.format not in FILE_NAMES:
        raise ConfigError(f"format={cfg.format} is not one of {', '.join(FILE_NAMES)}")
    network, record = inference_network(Path(cfg.ckpt_path), torch.device("cpu"))
    size = tuple(cfg.size) if cfg.size else record.val_size
    generator = torch.Generator().manual_seed(int(cfg.seed))
    example = random_images((1, *size), generator)
    path = Path(cfg.paths.output_dir) / FILE_NAMES[cfg.format]
    begin_run()  # checked: from here on the run folder is written
    path.parent.mkdir(parents=True, exist_ok=True)
    unchecked = path.with_name(f"unchecked-{path.name}")
    tolerance = float(cfg.tolerance)
    try:
        if cfg.format == "onnx":
            export_onnx(network, example, unchecked, int(cfg.opset), record.palette)
        else:
            export_torchscript(network, example, unchecked, record.palette)
        checks = [example, *(random_images(shape, generator) for shape in cfg.check_shapes)]
        worst = export_difference(unchecked, network, checks)
        if worst <= tolerance:
            unchecked.replace(path)
    finally:
        unchecked.unlink(missing_ok=True)
    if not worst <= tolerance:
        raise DroneSegError(
            f"the {cfg.format} export of {cfg.ckpt_path} differs from eager PyTorch by up to "
            f"{worst:.3g} in logits, more than tolerance={tolerance}: it was deleted, no model "
            f"file was written in {path.parent}"
        )
    return ExportResult(path, worst)


@command("export")
def main(cfg: DictConfig) -> None:
    """Export and check the network; a failed check ends in one line and a non-zero exit."""
    result = export(cfg)
    show(f"Exported {result.path} (max |logit difference| vs eager: {result.max_difference:.3g})")


if __name__ == "__main__":
    main()
