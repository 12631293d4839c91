"""OneCycle stepping: total steps from the trainer, whatever the epochs, limits, accumulation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.models.schedule import OneCycleLR
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


@pytest.mark.parametrize(("total", "pct_start"), [(10, 0.1), (20, 0.05), (4, 0.25)])
def test_a_one_step_warm_up_steps_to_the_end_where_torch_divides_by_zero(
    total: int, pct_start: float
) -> None:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.04)
    schedule = OneCycleLR(optimizer, max_lr=0.04, total_steps=total, pct_start=pct_start)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(total - 1):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates[0] == pytest.approx(0.04 / 25)
    assert max(range(total), key=rates.__getitem__) == 1
    assert rates[1] == pytest.approx(0.04)
    assert rates[-1] == pytest.approx(0.04 / 25 / 1e4, rel=1e-3)
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=0.04, total_steps=total, pct_start=pct_start
        )


def test_a_thirty_percent_warm_up_is_left_alone() -> None:
    """Only a one-step warm-up is widened: 100 steps at pct_start 0.3 peak at step 29."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.04)
    schedule = OneCycleLR(optimizer, max_lr=0.04, total_steps=100, pct_start=0.3)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(99):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert max(range(100), key=rates.__getitem__) == 29


def test_a_two_step_cycle_warms_up_in_one_step() -> None:
    """Two steps at pct_start 0.5 (a one-step warm-up, torch divides by zero): start, peak."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.04)
    schedule = OneCycleLR(optimizer, max_lr=0.04, total_steps=2, pct_start=0.5)
    first = optimizer.param_groups[0]["lr"]
    optimizer.step()
    schedule.step()
    assert first == pytest.approx(0.04 / 25) and optimizer.param_groups[0]["lr"] == 0.04
