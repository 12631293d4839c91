"""Paths suite: one network's training step in float32, bf16-mixed autocast, channels_last and
torch.compile (and their combinations), side by side in one process, timed in turns so that a
drift of the machine's speed reaches every path alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from drone_seg.bench.config import build_module, random_batch
from drone_seg.bench.results import Row
from drone_seg.bench.timing import synchronize
from drone_seg.bench.training import step_overrides, training_step_runner
from drone_seg.models.module import SegmentationModule
from drone_seg.schema import check_training_path


@dataclass(frozen=True)
class PathSettings:
    """What every path's training step is measured with; `seed` starts each network's weights."""

    network: str
    batch_size: int
    size: tuple[int, int]
    warmup: int
    rounds: int
    device: torch.device
    seed: int


@dataclass(frozen=True)
class Switches:
    """What a path name (`fp32`, `channels_last+bf16`...) switches on."""

    precision: str
    channels_last: bool
    compile_model: bool

    @classmethod
    def of(cls, path: str) -> Switches:
        on = set() if check_training_path(path) == "fp32" else set(path.split("+"))
        return cls("bf16-mixed" if "bf16" in on else "32", "channels_last" in on, "compile" in on)


def bench_paths(
    overrides: Sequence[str], paths: Sequence[str], settings: PathSettings
) -> list[Row]:
    """One row per path: images/s from the median step over rounds in which every path steps once,
    its ratio to the first path's, the fastest and slowest step, and the warm-up's seconds."""
    device = settings.device
    batch = random_batch(settings.batch_size, settings.size, device)
    steps, warmups = [], []
    for path in paths:
        module = build_path_module(settings.network, path, overrides, settings.seed).to(device)
        steps.append(training_step_runner(module, batch, Switches.of(path).precision, device))
        warmups.append(_seconds(steps[-1], settings.warmup, device))
    seconds = timed_in_turns(steps, settings.rounds, device)
    first = statistics.median(seconds[0])
    rows = []
    for path, times, warmup in zip(paths, seconds, warmups, strict=True):
        switches = Switches.of(path)
        rows.append({
            "suite": "paths",
            "name": path,
            "img/s": settings.batch_size / statistics.median(times),
            f"x {paths[0]}": first / statistics.median(times),
            "min step s": min(times),
            "max step s": max(times),
            "warm-up s": warmup,
            "precision": switches.precision,
            "channels_last": switches.channels_last,
            "compile": switches.compile_model,
        })  # fmt: skip
    return rows


def build_path_module(
    network: str, path: str, overrides: Sequence[str], seed: int
) -> SegmentationModule:
    """The training module of `model=network` set up for `path`, its weights drawn from `seed`,
    so that every path starts from the same weights."""
    switches = Switches.of(path)
    torch.manual_seed(seed)
    return build_module(
        network, [*overrides, *step_overrides(switches.channels_last, switches.compile_model)]
    )


def timed_in_turns(
    steps: Sequence[Callable[[], int]], rounds: int, device: torch.device
) -> list[list[float]]:
    """Seconds of every call of each step: each round calls every step once, starting one step
    further along than the round before, so that the steps take turns going first."""
    seconds: list[list[float]] = [[] for _ in steps]
    for round_index in range(rounds):
        for offset in range(len(steps)):
            index = (round_index + offset) % len(steps)
            seconds[index].append(_seconds(steps[index], 1, device))
    return seconds


def _seconds(step: Callable[[], int], calls: int, device: torch.device) -> float:
    """Wall seconds of `calls` calls of `step`, the device's queued work included."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        step()
    synchronize(device)
    return time.perf_counter() - start
