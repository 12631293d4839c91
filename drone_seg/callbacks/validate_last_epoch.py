"""The last training epoch is validated when a run validates every N epochs.

Lightning validates only the epochs that are multiples of `trainer.check_val_every_n_epoch`: a run
of 16 epochs validated every 3rd would end with a best checkpoint, metrics.json and closing table
that never saw its last epoch's weights.
"""

from __future__ import annotations

import lightning as L


class ValidateLastEpoch(L.Callback):
    """At the start of the last epoch (`trainer.max_epochs`), validate at its end too."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        last = trainer.max_epochs is not None and trainer.current_epoch == trainer.max_epochs - 1
        if last and trainer.check_val_every_n_epoch is not None:
            trainer.check_val_every_n_epoch = 1
