"""The 1-cycle learning-rate schedule, safe for every step count."""

from __future__ import annotations

from typing import Any

import torch


class OneCycleLR(torch.optim.lr_scheduler.OneCycleLR):
    """torch's OneCycleLR, which divides by zero when the warm-up is exactly one step
    (pct_start x total_steps == 1: 10 steps at 0.1, as in `debug=profiler`). Such a warm-up is
    widened to two steps: the rate starts at max_lr / div_factor and peaks at the second step."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        pct_start: float,
        **kwargs: Any,
    ) -> None:
        if float(pct_start * total_steps) - 1 == 0 and total_steps >= 2:
            pct_start = 2 / total_steps
        super().__init__(optimizer, total_steps=total_steps, pct_start=pct_start, **kwargs)
