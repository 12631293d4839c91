"""Lightning's exponential moving average of the weights (`callbacks=ema`), which warns before
training when its memory is long against the run: the trap of a short run with decay 0.99."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging

log = logging.getLogger(__name__)
# The horizon (optimizer steps holding 1 - 1/e of the average's weight) may span at most this
# share of the planned steps; beyond it validation sees weights from early, unsettled training
# (decay 0.99 over 120 steps scored val/dice 0.061 in docs/ablations.md).
HORIZON_SHARE = 0.2


def horizon_warning(decay: float, update_every_n_steps: int, planned_steps: int) -> str | None:
    """The warning for an average whose horizon exceeds HORIZON_SHARE of the planned steps."""
    horizon = update_every_n_steps / (1.0 - decay)
    if horizon <= HORIZON_SHARE * planned_steps:
        return None
    longest = 1.0 - update_every_n_steps / (HORIZON_SHARE * planned_steps)
    return (
        f"callbacks.ema.decay={decay} averages over about {horizon:.0f} optimizer steps, "
        f"{horizon / planned_steps:.0%} of the {planned_steps} planned: validation and the "
        f"checkpoints will hold early weights; use decay <= {max(longest, 0.0):.3f} for this run"
    )


class EMAWeights(EMAWeightAveraging):
    """`EMAWeightAveraging` with its decay kept, checked against the planned steps at fit start."""

    def __init__(
        self,
        decay: float,
        update_every_n_steps: int,
        update_starting_at_step: int | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            decay=decay,
            update_every_n_steps=update_every_n_steps,
            update_starting_at_step=update_starting_at_step,
            **kwargs,
        )
        self.decay = decay

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        planned = int(trainer.estimated_stepping_batches)
        warning = horizon_warning(self.decay, self.update_every_n_steps, planned)
        if warning and trainer.is_global_zero:
            log.warning(warning)
