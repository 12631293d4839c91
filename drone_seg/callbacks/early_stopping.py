"""Early stopping that says when and why it ended a run (Lightning's is silent by default)."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

log = logging.getLogger(__name__)


class ReportedEarlyStopping(EarlyStopping):
    """Lightning's `EarlyStopping`, with one line when it stops a run: the epoch, the metric and
    the patience (or Lightning's reason for the other criteria)."""

    def __init__(self, *, patience: int, **kwargs: Any) -> None:
        if patience < 0:
            raise ValueError(f"patience={patience} must be >= 0 (validations without improvement)")
        super().__init__(patience=patience, **kwargs)

    @property
    def state_key(self) -> str:
        # Lightning's own key, so that runs made with its EarlyStopping resume with this one.
        return super().state_key.replace(type(self).__qualname__, EarlyStopping.__qualname__, 1)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A reason restored from a checkpoint belongs to the run before the resume, not to this one.
        self.stopping_reason_message = None
        super().on_train_start(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stopping_reason_message is None or not trainer.is_global_zero:
            return
        if self.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED:
            why = (
                f"{self.monitor} did not improve by more than {abs(float(self.min_delta)):g} in "
                f"{self.wait_count} validations (callbacks.early_stopping.patience="
                f"{self.patience}); best {self.monitor} {float(self.best_score):.4f}"
            )
        else:
            why = self.stopping_reason_message
        log.info(
            "Early stopping ended the run after epoch %d (trainer.max_epochs=%s): %s",
            self.stopped_epoch, trainer.max_epochs, why,
        )  # fmt: skip
