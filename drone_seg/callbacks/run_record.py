"""RunRecordKeeper: the run record in every checkpoint train writes, and its paths on resume.

The record (`drone_seg.runs.checkpoint.make_record`) makes a checkpoint self-describing; on resume
the paths the checkpoint's callbacks remember follow a moved run folder. A callback rather than
the module's own hooks, so that the model layer knows nothing of run folders.
"""

from __future__ import annotations

from typing import Any

import lightning as L

from drone_seg.runs.checkpoint import RECORD_KEY
from drone_seg.runs.resume import relocate_callback_states


class RunRecordKeeper(L.Callback):
    """Writes `record` into every checkpoint; relocates callback paths when resuming. Train builds
    it with the Trainer, before the data scan, and sets `record` once the split is known."""

    def __init__(self, record: dict[str, Any] | None = None) -> None:
        self.record = record

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.record is None:
            raise RuntimeError("RunRecordKeeper.record is not set: train sets it before fitting")
        checkpoint[RECORD_KEY] = self.record

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        relocate_callback_states(checkpoint, trainer.ckpt_path, trainer.default_root_dir)
