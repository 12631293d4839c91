"""Export a checkpoint to ONNX or TorchScript, checked against eager PyTorch.

    python -m drone_seg.export ckpt_path=FILE format=onnx|torchscript

The exported model takes float 0..255 RGB batches (N, 3, H, W) of any batch size and image size
and returns logits (N, 12, H, W): normalization is inside. The file (`model.onnx` / `model.pt`)
goes to the run directory, carries its default inference size for `drone_seg.predict`, and is
only reported done when its logits match eager PyTorch within `tolerance` on random inputs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from drone_seg.classes import PALETTE
from drone_seg.cli import begin_run, command
from drone_seg.errors import ConfigError, DroneSegError
from drone_seg.inference.artifacts import METADATA_KEY, load_model, metadata_json
from drone_seg.runs.loading import inference_network
from drone_seg.runs.run_log import show

log = logging.getLogger(__name__)

FILE_NAMES: dict[str, str] = {"onnx": "model.onnx", "torchscript": "model.pt"}
# The TorchScript-based ONNX exporter is chosen on purpose (dynamo=False): it needs only the onnx
# package (the torch.export-based one also needs onnxscript, and took 30 s against 2 s for the
# demo network), and its dynamic height and width pass the parity check. Its notices that it is
# no longer torch's default say nothing about the file written, so they are not shown to users.
LEGACY_EXPORTER_NOTICES: tuple[str, ...] = (
    "You are using the legacy TorchScript-based ONNX export",
    "The feature will be removed",
)


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and how far its logits are from eager PyTorch at worst."""

    path: Path
    max_difference: float


def export_onnx(
    network: nn.Module,
    example: torch.Tensor,
    path: Path,
    opset: int,
    palette: tuple[tuple[int, int, int], ...] = PALETTE,
) -> None:
    """Write ONNX with dynamic batch, height and width, and the metadata predict reads."""
    try:
        import onnx
    except ImportError as error:
        raise ConfigError("format=onnx needs the onnx package: pip install onnx") from error
    with warnings.catch_warnings():
        for message in LEGACY_EXPORTER_NOTICES:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        torch.onnx.export(
            network,
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
    metadata = metadata_json(tuple(example.shape[2:]), palette)
    onnx.helper.set_model_props(model, {METADATA_KEY: metadata})
    onnx.save(model, str(path))


def export_torchscript(
    network: nn.Module,
    example: torch.Tensor,
    path: Path,
    palette: tuple[tuple[int, int, int], ...] = PALETTE,
) -> None:
    """Trace to TorchScript (shapes stay symbolic, so any batch and size run) with metadata."""
    with torch.no_grad():
        traced = torch.jit.trace(network.eval(), (example,), check_trace=False)
    metadata = metadata_json(tuple(example.shape[2:]), palette)
    torch.jit.save(traced, str(path), _extra_files={METADATA_KEY: metadata})


def random_images(shape: Iterable[int], generator: torch.Generator) -> torch.Tensor:
    """Random integer-valued float 0..255 images of (batch, height, width)."""
    batch, height, width = shape
    images = torch.randint(0, 256, (batch, 3, height, width), generator=generator)
    return images.float()


def export_difference(path: Path, network: nn.Module, inputs: list[torch.Tensor]) -> float:
    """Return the largest |logit difference| between the exported file, loaded as predict loads
    it, and the eager module on `inputs`."""
    exported = load_model(path, "cpu")
    worst = 0.0
    with torch.no_grad():
        for images in inputs:
            difference = (exported.run(images).float() - network(images)).abs().max()
            worst = max(worst, float(difference))
    shapes = ", ".join("x".join(map(str, images.shape)) for images in inputs)
    log.info("Max |logit difference| vs eager PyTorch on %s: %.3g", shapes, worst)
    return worst


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
