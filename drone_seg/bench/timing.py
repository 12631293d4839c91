"""Throughput as a median over repeats after warm-up, peak memory, and the machine it ran on."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(
    run: Callable[[], int], warmup: int, repeats: int, device: torch.device | None = None
) -> float:
    """Median items/s of `run` (which returns how many items it processed) over `repeats` calls,
    after `warmup` untimed calls."""
    device = device or torch.device("cpu")
    for _ in range(warmup):
        run()
    synchronize(device)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        items = run()
        synchronize(device)
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak: CUDA's allocator peak, or on Linux the process's peak resident set."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elif _PROC_CLEAR_REFS.exists():
        _PROC_CLEAR_REFS.write_text("5")


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak MB since `reset_peak_memory`: CUDA tensors on a GPU, the process's resident set
    (VmHWM, everything the process holds) on the CPU; None where neither can be read."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    if not _PROC_STATUS.exists():
        return None
    for line in _PROC_STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def machine(device: torch.device) -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()
