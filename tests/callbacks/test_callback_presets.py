"""callbacks=default|none|early_stopping|ema (early stopping says when and why it ended a run),
and the model summary's FLOPs count."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from drone_seg.callbacks.model_summary import FlopsModelSummary
from drone_seg.config_checks import built, check_config
from drone_seg.errors import ConfigError
from drone_seg.models.module import module_from_config
from drone_seg.runs.run_dir import RunDir
from drone_seg.train import train

from helpers.shipped import shipped

SHORT = ("trainer.limit_train_batches=2", "trainer.limit_val_batches=2")
ESSENTIAL = [
    "best_checkpoint",
    "last_checkpoint",
    "best_metrics",
    "model_summary",
    "validate_last_epoch",
]
DEFAULT_EXTRAS = ["lr_monitor", "images", "freeze_backbone"]


@pytest.mark.parametrize(
    ("choice", "extra"),
    [
        ("default", DEFAULT_EXTRAS),
        ("none", []),
        ("early_stopping", [*DEFAULT_EXTRAS, "early_stopping"]),
        ("[ema,early_stopping]", [*DEFAULT_EXTRAS, "ema", "early_stopping"]),
    ],
)  # fmt: skip
def test_presets_hold_what_a_run_needs_and_their_extras(train_config, choice, extra) -> None:
    cfg = train_config(f"callbacks={choice}")
    check_config(cfg, "train")
    assert list(cfg.callbacks) == ESSENTIAL + extra


def test_none_still_writes_checkpoints_and_metrics(train_config) -> None:
    cfg = train_config("callbacks=none", "trainer.max_epochs=1", *SHORT)
    train(cfg)
    run = RunDir(Path(cfg.paths.output_dir))
    assert run.best_checkpoint.is_file() and run.last_checkpoint.is_file()
    best = torch.load(run.best_checkpoint, weights_only=True)
    scores = [s["best_model_score"] for k, s in best["callbacks"].items() if "'val/dice'" in k]
    assert float(scores[0]) == pytest.approx(run.read_metrics()["val/dice"], abs=1e-6)
    assert not (run.path / "images").exists()


def test_early_stopping_ends_the_run_once_val_dice_stops_improving_and_says_why(
    train_config, caplog
) -> None:
    cfg = train_config(
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=1",
        "callbacks.early_stopping.min_delta=1.0",  # no later epoch can improve by a whole Dice
        "trainer.max_epochs=5",
        "trainer.limit_train_batches=4",  # 1-cycle needs 11+ steps planned (5 x 2 divide by 0)
        "trainer.limit_val_batches=2",
        "trainer.check_val_every_n_epoch=1",  # patience counts validations: one each epoch
    )
    caplog.set_level(logging.INFO, logger="drone_seg")
    train(cfg)
    last = torch.load(RunDir(Path(cfg.paths.output_dir)).last_checkpoint, weights_only=True)
    assert last["epoch"] == 1  # the first epoch sets the best, the second fails to beat it
    (state,) = [s for key, s in last["callbacks"].items() if key.startswith("EarlyStopping")]
    assert state["stopped_epoch"] == 1 and state["patience"] == 1
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Early stopping")]
    assert line.startswith(
        "Early stopping ended the run after epoch 1 (trainer.max_epochs=5): val/dice did not "
        "improve by more than 1 in 1 validations (callbacks.early_stopping.patience=1); best "
        "val/dice 0."
    ), line


def test_a_negative_patience_is_refused(train_config) -> None:
    cfg = train_config("callbacks=early_stopping", "callbacks.early_stopping.patience=-1")
    check_config(cfg, "train")  # a value: the callback's own check, run before the data scan
    with pytest.raises(ConfigError) as caught:
        built("callbacks.early_stopping", cfg.callbacks.early_stopping)
    assert str(caught.value) == (
        "callbacks.early_stopping (drone_seg.callbacks.early_stopping.ReportedEarlyStopping) "
        "refused its settings: patience=-1 must be >= 0 (validations without improvement)"
    )


def flops(module: torch.nn.Module, size: int) -> int:
    """FLOPs of one forward pass of a 1x3xSIZExSIZE uint8 image, counted by torch."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(torch.zeros((1, 3, size, size), dtype=torch.uint8))
    return counter.get_total_flops()


def test_the_model_summary_counts_the_flops_of_one_crop(train_config) -> None:
    module = module_from_config(train_config())
    module.train()
    module.net.backbone.eval()  # as freezing leaves it: the summary must not change the modes
    modes = [m.training for m in module.modules()]
    trainer = SimpleNamespace(strategy=None, is_global_zero=True)

    def summary(size: int, **changes: bool):
        options = shipped("callbacks.model_summary", input_size=[size, size], **changes)
        return FlopsModelSummary(**options)._summary(trainer, module)

    small, large = summary(64).total_flops, summary(128).total_flops
    assert [m.training for m in module.modules()] == modes
    assert small == flops(module.eval(), 64) > 10**7
    assert 3.5 < large / small < 4.5  # a convolutional network: FLOPs grow with the pixels
    off = summary(64, count_flops=False)
    assert off.total_flops == 0
