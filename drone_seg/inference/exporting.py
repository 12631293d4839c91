"""Writing a network as ONNX or TorchScript with the metadata predict reads, and checking it.

The export command (`drone_seg.export`) and the bench's inference rows both write models this way.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from drone_seg.classes import PALETTE
from drone_seg.errors import ConfigError
from drone_seg.inference.artifacts import METADATA_KEY, load_model, metadata_json

log = logging.getLogger(__name__)

# The TorchScript-based ONNX exporter is chosen on purpose (dynamo=False): it needs only the onnx
# package (the torch.export-based one also needs onnxscript, and took 30 s against 2 s for the
# demo network), and its dynamic height and width pass the parity check. Its notices that it is
# no longer torch's default say nothing about the file written, so they are not shown to users.
LEGACY_EXPORTER_NOTICES: tuple[str, ...] = (
    "You are using the legacy TorchScript-based ONNX export",
    "The feature will be removed",
)


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
