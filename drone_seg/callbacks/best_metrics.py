"""Writes the best epoch's validation metrics to `metrics.json` in the run directory."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import lightning as L

from drone_seg.runs.run_dir import write_metrics

log = logging.getLogger(__name__)


class BestMetricsWriter(L.Callback):
    """Keep the val metrics of the epoch with the best `monitor` value and write them as JSON.

    The comparison is strict, as in ModelCheckpoint, so `metrics.json` describes the epoch whose
    weights are in `checkpoints/best.ckpt`. A debug run writes no file (`path` null, as the debug
    presets set it, or `trainer.fast_dev_run`): its best epoch is only kept for the closing table.
    The best so far is checkpointed, so resuming in the same folder keeps it; resuming into another
    folder starts afresh there, as ModelCheckpoint does.
    Undefined scores (a class absent from predictions and targets) are written as null.
    """

    def __init__(self, path: str | None, monitor: str, mode: str) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"callbacks.best_metrics.mode={mode} must be 'max' or 'min'")
        self.path = None if path is None else Path(path)
        self.monitor = monitor
        self.mode = mode
        self.best: dict[str, float] = {}

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        metrics = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if key.startswith("val/")
        }
        if not self._improves(metrics[self.monitor]):
            return
        self.best = {"epoch": trainer.current_epoch, "step": trainer.global_step, **metrics}
        self._write(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write again at the end, so a resumed run's directory has the file without a new best."""
        self._write(trainer)

    def _write(self, trainer: L.Trainer) -> None:
        if (
            self.path is not None
            and self.best
            and trainer.is_global_zero
            and not trainer.fast_dev_run
        ):
            write_metrics(self.path, self.best)

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if not self.best:
            return True
        best = self.best[self.monitor]
        return value > best if self.mode == "max" else value < best

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "path": self._resolved()}

    def _resolved(self) -> str | None:
        return None if self.path is None else str(self.path.resolve())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("path", self._resolved()) != self._resolved():
            log.warning(
                "Resuming into another folder: its best epoch is chosen among the epochs run "
                "there, as checkpoints/best.ckpt is (the checkpoint's run wrote %s)",
                state_dict["path"],
            )
            return
        self.best = state_dict["best"]
