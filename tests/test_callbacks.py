"""Backbone freezing and TensorBoard pictures, through real training runs."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.train import train

SNAPSHOTS: dict[str, dict[str, torch.Tensor]] = {}


class Snapshot(L.Callback):
    """Keeps the network's state at the start of training and after each training epoch."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        SNAPSHOTS["start"] = copy.deepcopy(pl_module.net.state_dict())

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        SNAPSHOTS[f"epoch{trainer.current_epoch}"] = copy.deepcopy(pl_module.net.state_dict())


def changed(before: dict, after: dict, prefix: str) -> set[str]:
    return {k for k in before if k.startswith(prefix) and not torch.equal(before[k], after[k])}


def test_backbone_frozen_first_epoch_then_trained(train_config) -> None:
    cfg = train_config(
        "callbacks.freeze_backbone.epochs=1",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
        "+callbacks.snapshot._target_=test_callbacks.Snapshot",
    )
    train(cfg)
    start, first, second = SNAPSHOTS["start"], SNAPSHOTS["epoch0"], SNAPSHOTS["epoch1"]
    assert not changed(start, first, "backbone."), "weights and BatchNorm statistics stay put"
    assert changed(start, first, "classifier.")
    trained = changed(first, second, "backbone.")
    assert any(k.endswith("running_mean") for k in trained)
    assert any(k.endswith(".weight") for k in trained)


def test_confusion_matrix_and_predictions_reach_tensorboard(train_config) -> None:
    cfg = train_config(
        "callbacks.images.every_n_epochs=2", "trainer.max_epochs=2", "trainer.limit_train_batches=2"
    )
    train(cfg)
    events = EventAccumulator(str(Path(cfg.paths.output_dir) / "tensorboard")).Reload()
    images = {tag: events.Images(tag) for tag in events.Tags()["images"]}
    assert images.keys() == {"val/confusion_matrix", "val/predictions"}
    assert [len(logged) for logged in images.values()] == [1, 1], "only every 2nd epoch"
    grid = images["val/predictions"][0]
    assert grid.width == 3 * 160 and grid.height > 4 * 96  # 4 rows of 3 panels, and a legend
