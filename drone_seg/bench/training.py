"""Train suite: images/s and peak memory of the training step (forward, loss, metrics, backward,
optimizer step) of each network, its model FLOP/s from the forward FLOPs that
`torch.utils.flop_counter` counts, and on a GPU of known peak the model FLOP utilization (MFU)."""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from drone_seg.bench.config import build_module, random_batch, row_name
from drone_seg.bench.fresh_process import in_fresh_process
from drone_seg.bench.results import Row
from drone_seg.bench.timing import peak_memory_mb, reset_peak_memory, throughput
from drone_seg.models.module import SegmentationModule

PRECISIONS: dict[str, torch.dtype | None] = {
    "32": None,
    "bf16-mixed": torch.bfloat16,
    "16-mixed": torch.float16,
}
# Model FLOPs of a training step per forward FLOP: the forward, and twice it for the backward (the
# usual MFU convention). Counting the backward itself is wrong for depthwise convolutions: torch's
# FlopCounterMode gave 36x the forward for LR-ASPP MobileNetV3 here (2x for DeepLabV3-ResNet50).
STEP_FLOPS_PER_FORWARD = 3
# Dense peak TFLOP/s by GPU name and precision (float32 convolutions run as TF32, PyTorch's default
# for cuDNN). For other GPUs set peak_tflops=<the dense peak> (conf/bench.yaml).
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H100": {"32": 494.7, "bf16-mixed": 989.4, "16-mixed": 989.4},
    "A100": {"32": 156.0, "bf16-mixed": 312.0, "16-mixed": 312.0},
    "L4": {"32": 60.0, "bf16-mixed": 121.0, "16-mixed": 121.0},
}


# The CPU roofline: one square matrix product of this size, per precision of the train suite.
ROOFLINE_SIZE = 2048
ROOFLINE_DTYPES: dict[str, torch.dtype] = {"32": torch.float32, "bf16-mixed": torch.bfloat16}


@dataclass(frozen=True)
class StepSettings:
    """What every network's training step is measured with."""

    batch_size: int
    size: tuple[int, int]
    precision: str
    channels_last: bool
    compile_model: bool
    warmup: int
    repeats: int
    device: torch.device
    peak_tflops: float | None


def bench_train(
    overrides: Sequence[str], networks: Sequence[str], settings: StepSettings
) -> list[Row]:
    """One row per network, each measured in a new process so that its peak memory is its own
    (a process keeps the memory an earlier network freed). On the CPU, first the matmul roofline
    in float32 and bfloat16; the networks' MFU is then their share of the measured peak."""
    rows: list[Row] = []
    if settings.device.type == "cpu":
        rows = [_roofline_row(dtype, settings) for dtype in ROOFLINE_DTYPES]
        if settings.peak_tflops is None:
            peaks = {row["precision"]: row["TFLOP/s"] for row in rows}
            settings = dataclasses.replace(settings, peak_tflops=peaks.get(settings.precision))
    for network in networks:
        rows.append(in_fresh_process(measure_network, network, list(overrides), settings))
    return rows


def measure_network(network: str, overrides: list[str], settings: StepSettings) -> Row:
    """The training step of `model=network` on random uint8 batches already on the device."""
    device, batch_size = settings.device, settings.batch_size
    switches = step_overrides(settings.channels_last, settings.compile_model)
    module = build_module(network, [*overrides, *switches]).to(device)
    batch = random_batch(batch_size, settings.size, device)
    forward_flops = _forward_flops(module, batch["image"]) / batch_size
    step = training_step_runner(module, batch, settings.precision, device)
    reset_peak_memory(device)
    rate = throughput(step, settings.warmup, settings.repeats, device)
    row: Row = {
        "suite": "train",
        "name": row_name(network, module),
        "img/s": rate,
        "peak MB": peak_memory_mb(device),
        "fwd GFLOP/img": forward_flops / 1e9,
        "TFLOP/s": STEP_FLOPS_PER_FORWARD * forward_flops * rate / 1e12,
        "precision": settings.precision,
        "channels_last": settings.channels_last,
        "compile": settings.compile_model,
    }
    peak = settings.peak_tflops or _known_peak(device, settings.precision)
    if peak:
        row["MFU"] = row["TFLOP/s"] / peak
    return row


def step_overrides(channels_last: bool, compile_model: bool) -> list[str]:
    """The train-config overrides of a measured step: its switches, and no schedule (one step)."""
    return [
        f"model.channels_last={channels_last}",
        f"model.compile={compile_model}",
        "scheduler=none",
    ]


def training_step_runner(
    module: SegmentationModule,
    batch: dict[str, torch.Tensor],
    precision: str,
    device: torch.device,
) -> Callable[[], int]:
    """One optimizer step as Lightning's automatic optimization runs it, in `precision`."""
    dtype = PRECISIONS[precision]
    optimizer, _ = module.optimizer_and_schedule(total_steps=1)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
    module.train()

    def step() -> int:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None), _no_trainer():
            loss = module.training_step(batch, 0)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return batch["image"].shape[0]

    return step


def matmul_tflops(dtype: torch.dtype, size: int, warmup: int, repeats: int) -> float:
    """TFLOP/s of a `size` x `size` matrix product on the CPU in `dtype` (2 FLOPs per
    multiply-add): the dense peak the machine reaches, against which model FLOP/s are read."""
    a, b = (torch.randn(size, size).to(dtype) for _ in range(2))

    def product() -> int:
        torch.mm(a, b)
        return 1

    return 2 * size**3 * throughput(product, warmup, repeats) / 1e12


def _roofline_row(precision: str, settings: StepSettings) -> Row:
    tflops = matmul_tflops(
        ROOFLINE_DTYPES[precision], ROOFLINE_SIZE, settings.warmup, settings.repeats
    )
    name = f"matmul {ROOFLINE_SIZE} ({ROOFLINE_DTYPES[precision]})".replace("torch.", "")
    return {"suite": "train", "name": name, "TFLOP/s": tflops, "precision": precision}


def _forward_flops(module: SegmentationModule, images: torch.Tensor) -> int:
    """FLOPs (2 per multiply-add, convolutions and matmuls) of the network's forward pass."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(images)
    return counter.get_total_flops()


def _known_peak(device: torch.device, precision: str) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peaks[precision] for gpu, peaks in PEAK_TFLOPS.items() if gpu in name), None)


@contextlib.contextmanager
def _no_trainer() -> Iterator[None]:
    """Silence `self.log` outside a Trainer: the step's logging is the overhead suite's business."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*self.log.*")
        yield
