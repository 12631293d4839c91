"""callbacks=early_stopping says when and why it ended a run."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from drone_seg.runs.run_dir import RunDir
from drone_seg.train import train


def test_early_stopping_logs_the_epoch_the_metric_and_the_patience(train_config, caplog) -> None:
    cfg = train_config(
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=1",
        "callbacks.early_stopping.min_delta=1.0",  # no later epoch can improve by a whole Dice
        "trainer.max_epochs=5",
        "trainer.limit_train_batches=4",
        "trainer.limit_val_batches=2",
        "callbacks.images=null",
    )
    caplog.set_level(logging.INFO, logger="drone_seg")
    train(cfg)
    last = torch.load(RunDir(Path(cfg.paths.output_dir)).last_checkpoint, weights_only=True)
    assert last["epoch"] == 1
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Early stopping")]
    assert line.startswith(
        "Early stopping ended the run after epoch 1 (trainer.max_epochs=5): val/dice did not "
        "improve by more than 1 in 1 validations (callbacks.early_stopping.patience=1); best "
        "val/dice 0."
    ), line
