"""Overhead suite: the same network, batches and steps in a plain PyTorch loop and through the
Lightning Trainer with our module, callbacks and loggers (TensorBoard by default); the ratio of
their step times.

Both loops run the module's `training_step` (forward, loss, metric update), backward, the
optimizer and the 1-cycle schedule. A step's time is the period from its start to the next
step's start, so everything either loop does between steps counts; the figure is the median
step after warm-up over all repeats (this machine's speed drifts by tens of percent within
seconds, which a median over steps absorbs better than a total). The two loops take turns going
first. The Trainer's start-up and epoch-end work (checkpoint writing) are not steps: the whole
`fit` is reported beside it in seconds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader

from drone_seg.bench.config import build_module, random_batch, train_config
from drone_seg.bench.results import Row
from drone_seg.bench.timing import synchronize
from drone_seg.runs.loggers import close_loggers, instantiate_loggers


class _StepClock(L.Callback):
    """Notes the time at the start of every step and at the end of training."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: list[float] = []

    def on_train_batch_start(self, *args: Any) -> None:
        synchronize(self.device)
        self.times.append(time.perf_counter())

    def on_train_end(self, *args: Any) -> None:
        synchronize(self.device)
        self.times.append(time.perf_counter())


def bench_overhead(
    overrides: Sequence[str],
    network: str,
    batch_size: int,
    size: tuple[int, int],
    steps: int,
    warmup: int,
    repeats: int,
    device: torch.device,
) -> list[Row]:
    """Rows for the plain loop and the Trainer: median step time over `repeats` runs of each."""
    cpu = torch.device("cpu")
    batches = [random_batch(batch_size, size, cpu, seed=i) for i in range(warmup + steps)]
    loader = DataLoader(batches, batch_size=None)  # the batches as they are, in order
    loops = {"plain loop": _plain_loop, "lightning": _lightning_loop}
    periods: dict[str, list[float]] = {name: [] for name in loops}
    fits = []
    for repeat in range(repeats):
        for name in list(loops)[:: 1 if repeat % 2 == 0 else -1]:
            times, seconds = loops[name](overrides, network, loader, device)
            periods[name] += [end - start for start, end in pairwise(times[warmup:])]
            fits += [seconds] if name == "lightning" else []
    plain, lightning = periods["plain loop"], periods["lightning"]
    plain_step, lightning_step = statistics.median(plain), statistics.median(lightning)
    common = {"network": network, "steps": steps * repeats}
    return [
        {
            "suite": "overhead",
            "name": "plain loop",
            **common,
            "img/s": batch_size / plain_step,
            "step ms": plain_step * 1e3,
        },
        {
            "suite": "overhead",
            "name": "lightning",
            **common,
            "img/s": batch_size / lightning_step,
            "step ms": lightning_step * 1e3,
            "ratio": lightning_step / plain_step,
            "fit s": statistics.median(fits),
        },
    ]


def _plain_loop(
    overrides: Sequence[str], network: str, loader: DataLoader, device: torch.device
) -> tuple[list[float], float]:
    """Start time of every step and the end time of a hand-written loop (and its seconds)."""
    torch.manual_seed(0)
    module = build_module(network, overrides).to(device).train()
    optimizer, scheduler = module.optimizer_and_schedule(total_steps=len(loader))
    times = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*self.log.*")
        for index, batch in enumerate(loader):
            synchronize(device)
            times.append(time.perf_counter())
            batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
            loss = module.training_step(batch, index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    synchronize(device)
    times.append(time.perf_counter())
    return times, times[-1] - times[0]


def _lightning_loop(
    overrides: Sequence[str], network: str, loader: DataLoader, device: torch.device
) -> tuple[list[float], float]:
    """Start time of every step and the end time through `Trainer.fit`, and the fit's seconds."""
    torch.manual_seed(0)
    module = build_module(network, overrides)
    clock = _StepClock(device)
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = train_config([*overrides, f"paths.output_dir={run_dir}"])
        # As train builds them: a callback set to null is left out, loggers by name.
        callbacks = [instantiate(node) for node in (cfg.get("callbacks") or {}).values() if node]
        trainer = L.Trainer(
            accelerator=device.type,
            devices=1,
            max_epochs=1,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            log_every_n_steps=cfg.trainer.log_every_n_steps,
            callbacks=[*callbacks, clock],
            logger=instantiate_loggers(cfg.get("logger")),
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=run_dir,
        )
        start = time.perf_counter()
        trainer.fit(module, train_dataloaders=loader)
        fit_seconds = time.perf_counter() - start
        close_loggers(trainer.loggers)
    return clock.times, fit_seconds
