"""Infer suite: images/s of each network at full resolution in eager PyTorch, as TorchScript and
in ONNX Runtime, each prepared and loaded exactly as `drone_seg.predict` does (no aux head)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from drone_seg.bench.config import build_module, row_name
from drone_seg.bench.results import Row
from drone_seg.bench.timing import throughput
from drone_seg.inference.artifacts import load_model
from drone_seg.inference.exporting import export_onnx, export_torchscript, random_images
from drone_seg.models.inference_network import InferenceNetwork

RUNTIMES: tuple[str, ...] = ("eager", "torchscript", "onnxruntime")


def bench_infer(
    overrides: Sequence[str],
    networks: Sequence[str],
    runtimes: Sequence[str],
    batch_size: int,
    size: tuple[int, int],
    opset: int,
    warmup: int,
    repeats: int,
    device: torch.device,
) -> list[Row]:
    """One row per network and runtime; ONNX Runtime runs on the CPU (its CPU provider)."""
    images = random_images((batch_size, *size), torch.Generator().manual_seed(0))
    rows = []
    for network in networks:
        training_module = build_module(network, overrides)
        name, module = row_name(network, training_module), training_module.for_inference()
        eager_rate = None
        with tempfile.TemporaryDirectory() as folder:
            for runtime in runtimes:
                run = _runner(runtime, module, images, Path(folder), opset, device)
                on = device if runtime != "onnxruntime" else torch.device("cpu")
                rate = _rate(run, images.to(on), warmup, repeats, on)
                eager_rate = rate if runtime == "eager" else eager_rate
                rows.append({
                    "suite": "infer",
                    "name": name,
                    "runtime": runtime,
                    "device": str(on),
                    "img/s": rate,
                    "vs eager": rate / eager_rate if eager_rate else None,
                })  # fmt: skip
    return rows


def _rate(
    run: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    warmup: int,
    repeats: int,
    device: torch.device,
) -> float:
    def infer() -> int:
        with torch.inference_mode():
            run(images)
        return images.shape[0]

    return throughput(infer, warmup, repeats, device)


def _runner(
    runtime: str,
    module: InferenceNetwork,
    example: torch.Tensor,
    folder: Path,
    opset: int,
    device: torch.device,
) -> Callable[[torch.Tensor], torch.Tensor]:
    if runtime == "eager":
        return module.to(device)
    if runtime == "torchscript":
        path = folder / "model.pt"
        export_torchscript(module.cpu(), example[:1], path)
        return load_model(path, str(device)).run
    path = folder / "model.onnx"
    export_onnx(module.cpu(), example[:1], path, opset)
    return load_model(path, "cpu").run
