"""A callback that keeps the network's weights over training, to see which parts a run changed."""

from __future__ import annotations

import copy

import lightning as L
import torch

# Filled by `Snapshot`: "start", then "epoch0", "epoch1", ... (the network's state dict).
SNAPSHOTS: dict[str, dict[str, torch.Tensor]] = {}
# The override that adds it to a training run.
SNAPSHOT_CALLBACK = "+callbacks.snapshot._target_=helpers.snapshots.Snapshot"


class Snapshot(L.Callback):
    """Keeps the network's state at the start of training and after each training epoch."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        SNAPSHOTS["start"] = copy.deepcopy(pl_module.net.state_dict())

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        SNAPSHOTS[f"epoch{trainer.current_epoch}"] = copy.deepcopy(pl_module.net.state_dict())


def changed(before: dict, after: dict, prefix: str) -> set[str]:
    """Names under `prefix` whose tensors differ between two snapshots."""
    return {k for k in before if k.startswith(prefix) and not torch.equal(before[k], after[k])}
