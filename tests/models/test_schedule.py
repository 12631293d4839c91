"""OneCycle stepping: total steps from the trainer, whatever the epochs, limits, accumulation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.train import train


def learning_rates(run_dir: Path) -> list[float]:
    """The decayed group's learning rate at each optimizer step, as logged to TensorBoard."""
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    by_step = {event.step: event.value for event in events.Scalars("lr-SGD/decay")}
    return [by_step[step] for step in sorted(by_step)]


@pytest.mark.parametrize(("epochs", "batches", "accumulate"), [(2, 4, 1), (3, 7, 2), (4, 6, 3)])
def test_one_cycle_peaks_at_pct_start_and_ends_at_the_minimum(
    train_config, epochs: int, batches: int, accumulate: int
) -> None:
    cfg = train_config(
        f"trainer.max_epochs={epochs}",
        f"trainer.limit_train_batches={batches}",
        f"trainer.accumulate_grad_batches={accumulate}",
        "trainer.limit_val_batches=1",
        "trainer.log_every_n_steps=1",
        "scheduler.pct_start=0.25",
        "optimizer.lr=0.04",
        "callbacks.images.every_n_epochs=100",
    )
    train(cfg)
    rates = learning_rates(Path(cfg.paths.output_dir))
    total = epochs * math.ceil(batches / accumulate)
    assert len(rates) == total
    peak = max(range(total), key=rates.__getitem__)
    assert peak == 0.25 * total - 1  # totals chosen so that the warm-up ends on a step
    assert rates[peak] == pytest.approx(0.04, rel=1e-6)
    assert rates[0] == pytest.approx(0.04 / 25)
    final = 0.04 / 25 / 1e4
    assert rates[-1] == pytest.approx(final, rel=1e-3)
