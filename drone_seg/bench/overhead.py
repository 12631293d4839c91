"""Overhead suite: the same network, batches and steps in a plain PyTorch loop and through the
Lightning Trainer with our module, callbacks and TensorBoard logger; the ratio of their times.

Both loops run the module's `training_step` (forward, loss, metric update), backward, the
optimizer and the 1-cycle schedule. Timed are the steps after warm-up, from the start of the
first timed step to the end of the last; the Trainer's start-up and epoch-end work (checkpoint
writing) are outside the window and reported separately as whole-fit seconds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader

from drone_seg.bench.config import build_module, random_batch, train_config
from drone_seg.bench.report import Row
from drone_seg.bench.timing import synchronize


class _StepClock(L.Callback):
    """Notes the time at the start of step `first` and at the end of every step."""

    def __init__(self, first: int, device: torch.device) -> None:
        self.first, self.device = first, device
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step == self.first:
            synchronize(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        synchronize(self.device)
        self.end = time.perf_counter()


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
    """Rows for the plain loop and the Trainer (median over `repeats` alternating runs)."""
    cpu = torch.device("cpu")
    batches = [random_batch(batch_size, size, cpu, seed=i) for i in range(warmup + steps)]
    loader = DataLoader(batches, batch_size=None)  # the batches as they are, in order
    plain, lightning, fits = [], [], []
    for _ in range(repeats):
        plain.append(_plain_loop(overrides, network, loader, warmup, device))
        seconds, fit_seconds = _lightning_loop(overrides, network, loader, warmup, device)
        lightning.append(seconds)
        fits.append(fit_seconds)
    images = steps * batch_size
    plain_s, lightning_s = statistics.median(plain), statistics.median(lightning)
    common = {"network": network, "steps": steps}
    return [
        {
            "suite": "overhead",
            "name": "plain loop",
            **common,
            "img/s": images / plain_s,
            "s": plain_s,
        },
        {
            "suite": "overhead",
            "name": "lightning",
            **common,
            "img/s": images / lightning_s,
            "s": lightning_s,
            "ratio": lightning_s / plain_s,
            "fit s": statistics.median(fits),
        },
    ]


def _plain_loop(
    overrides: Sequence[str], network: str, loader: DataLoader, warmup: int, device: torch.device
) -> float:
    """Seconds of the timed steps of a hand-written loop."""
    torch.manual_seed(0)
    module = build_module(network, overrides).to(device).train()
    optimizer, scheduler = module.optimizer_and_schedule(total_steps=len(loader))
    start = 0.0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*self.log.*")
        for index, batch in enumerate(loader):
            if index == warmup:
                synchronize(device)
                start = time.perf_counter()
            batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
            batch = module.on_after_batch_transfer(batch, 0)
            loss = module.training_step(batch, index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    synchronize(device)
    return time.perf_counter() - start


def _lightning_loop(
    overrides: Sequence[str], network: str, loader: DataLoader, warmup: int, device: torch.device
) -> tuple[float, float]:
    """Seconds of the timed steps through `Trainer.fit`, and of the whole fit."""
    torch.manual_seed(0)
    module = build_module(network, overrides)
    clock = _StepClock(warmup, device)
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = train_config([*overrides, f"paths.output_dir={run_dir}"])
        callbacks = [instantiate(callback) for callback in cfg.callbacks.values()]
        trainer = L.Trainer(
            accelerator=device.type,
            devices=1,
            max_epochs=1,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            log_every_n_steps=cfg.trainer.log_every_n_steps,
            callbacks=[*callbacks, clock],
            logger=instantiate(cfg.logger),
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=run_dir,
        )
        start = time.perf_counter()
        trainer.fit(module, train_dataloaders=loader)
        fit_seconds = time.perf_counter() - start
    return clock.end - clock.start, fit_seconds
