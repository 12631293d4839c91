"""Lightning's learning-rate range test, with its plot and suggestion kept in the run directory.

`tune_lr=true` runs `lr_finder.num_steps` training steps, the rate rising from `lr_finder.min_lr`
to `lr_finder.max_lr` (conf/train.yaml). Only the training loss is read, so validation is
switched off while it runs (Lightning would otherwise validate after every epoch, which on a small
set is most of the time spent), and the epoch limit is raised so that the steps asked for are the
steps run. A warning says when the suggestion means little: steps going over the training batches
more than `MAX_PASSES` times (the curve then shows the network memorising a few images), the
steepest descent at an edge of the range, or no suggestion.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.tuner import Tuner

from drone_seg.errors import ConfigError

log = logging.getLogger(__name__)

# Lightning's suggestion (steepest descent of the smoothed loss) skips the curve's first 10 points
# and its last one.
SKIP_BEGIN, SKIP_END = 10, 1
# Passes over the training batches beyond which the finder's curve is mostly memorisation.
MAX_PASSES = 2
# Lightning's notes about the temporary checkpoint of the finder, and the loggers they come from.
TEMPORARY_CHECKPOINT_NOTES = (
    "`weights_only` was not set",
    "Restoring states from the checkpoint path at",
    "Restored all states from the checkpoint at",
)
LIGHTNING_CHECKPOINT_LOGGERS = (
    "lightning.pytorch.trainer.connectors.checkpoint_connector",
    "lightning.pytorch.utilities.rank_zero",
)


def check_lr_range(settings: Mapping[str, Any]) -> None:
    """Refuse a range that does not rise (`lr_finder.min_lr` >= `lr_finder.max_lr`)."""
    if settings["min_lr"] >= settings["max_lr"]:
        raise ConfigError(
            f"lr_finder.min_lr={settings['min_lr']} must be below lr_finder.max_lr="
            f"{settings['max_lr']}: the range test raises the rate from one to the other"
        )


def find_learning_rate(
    trainer: L.Trainer,
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    out: Path,
    settings: Mapping[str, Any],
) -> float | None:
    """Sweep the learning rate as `settings` (the `lr_finder` node) say; save `lr_finder.png` and
    `lr_finder.json` in `out` and return the suggestion (None when there is none).

    The module's `optimizer.lr` is what the sweep changes; the suggestion (steepest loss descent)
    is a starting point for `optimizer.lr=`, which with the 1-cycle schedule is the peak rate.
    """
    check_lr_range(settings)
    steps = int(settings["num_steps"])
    batches = _train_batches(trainer, datamodule)
    if steps > MAX_PASSES * batches:
        log.warning(
            "The learning-rate finder's %d steps see the %d training batches %.1f times each "
            "(more than %d): its curve shows the network memorising them, and the suggestion says "
            "little about the full run; use more training images, a smaller data.batch_size or "
            "fewer lr_finder.num_steps, or take the suggestion as a rough one",
            steps, batches, steps / batches, MAX_PASSES,
        )  # fmt: skip
    epochs = math.ceil(steps / max(batches, 1))
    with _training_only(trainer, epochs), _temporary_checkpoint_notes():
        finder = Tuner(trainer).lr_find(
            module,
            datamodule=datamodule,
            min_lr=float(settings["min_lr"]),
            max_lr=float(settings["max_lr"]),
            num_training=steps,
            mode=settings["mode"],
            early_stop_threshold=settings["early_stop_threshold"],
            update_attr=False,
        )
    if finder is None:  # Lightning skips it under trainer.fast_dev_run
        log.warning("The learning-rate finder is skipped under trainer.fast_dev_run: no suggestion")
        return None
    log.info(
        "The learning-rate finder put the weights and optimizer state back as before its sweep, "
        "from a temporary checkpoint of its own (read weights_only, then deleted)"
    )
    suggestion = finder.suggestion(skip_begin=SKIP_BEGIN, skip_end=SKIP_END)
    _warn_about(finder, suggestion, settings)
    out.mkdir(parents=True, exist_ok=True)
    finder.plot(suggest=suggestion is not None).savefig(out / "lr_finder.png")
    results = {
        "suggestion": suggestion,
        "num_steps": steps,
        "steps_run": len(finder.results["lr"]),
        "train_batches": batches,
        "min_lr": float(settings["min_lr"]),
        "max_lr": float(settings["max_lr"]),
        "mode": settings["mode"],
        "lr": finder.results["lr"],
        "loss": finder.results["loss"],
    }
    (out / "lr_finder.json").write_text(json.dumps(results, indent=2) + "\n")
    if suggestion is not None:
        log.info("Learning-rate finder suggests optimizer.lr=%s", suggestion)
    return suggestion


def _warn_about(finder: Any, suggestion: float | None, settings: Mapping[str, Any]) -> None:
    """Warn when there is no suggestion, or when it sits at an edge of the range searched."""
    points = len(finder.results["lr"])
    if suggestion is None:
        log.warning(
            "The learning-rate finder has no suggestion: %d points, and the suggestion skips the "
            "first %d and the last %d (the loss diverged early? lower lr_finder.max_lr or raise "
            "lr_finder.early_stop_threshold)",
            points, SKIP_BEGIN, SKIP_END,
        )  # fmt: skip
    elif finder._optimal_idx in (SKIP_BEGIN, points - 1 - SKIP_END):
        log.warning(
            "The learning-rate finder's suggestion %.3g is at an edge of the rates it weighed "
            "(lr_finder.min_lr=%s to max_lr=%s): the steepest descent may lie outside; widen the "
            "range on that side",
            suggestion, settings["min_lr"], settings["max_lr"],
        )  # fmt: skip


def _train_batches(trainer: L.Trainer, datamodule: L.LightningDataModule) -> int:
    """Training batches per epoch, as `trainer.limit_train_batches` leaves them."""
    batches = len(datamodule.train_dataloader())
    limit = trainer.limit_train_batches
    if isinstance(limit, int):
        return min(batches, limit)
    return max(1, int(batches * (1.0 if limit is None else limit)))


class _TemporaryCheckpointNotes(logging.Filter):
    """Drops Lightning's notes about the checkpoint its finder saves before the sweep and restores
    after it (`.lr_find_<uuid>.ckpt` in the run folder): they name a file it deletes at once, and
    "`weights_only` was not set, defaulting to `False`" is about saving the full training state,
    while the reload goes through AtomicCheckpointIO, which reads weights_only=True."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(note in record.getMessage() for note in TEMPORARY_CHECKPOINT_NOTES)


@contextmanager
def _temporary_checkpoint_notes() -> Iterator[None]:
    """Hide Lightning's notes about the finder's temporary checkpoint while the finder runs."""
    notes = _TemporaryCheckpointNotes()
    loggers = [logging.getLogger(name) for name in LIGHTNING_CHECKPOINT_LOGGERS]
    for logger in loggers:
        logger.addFilter(notes)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(notes)


@contextmanager
def _training_only(trainer: L.Trainer, epochs: int) -> Iterator[None]:
    """No validation, and room for at least `epochs` epochs, while the finder runs (its own step
    count ends it; a finite limit, for the schedules sized from the run's length)."""
    saved = (
        trainer.check_val_every_n_epoch,
        trainer.num_sanity_val_steps,
        trainer.fit_loop.max_epochs,
    )
    trainer.check_val_every_n_epoch = sys.maxsize
    trainer.num_sanity_val_steps = 0
    trainer.fit_loop.max_epochs = max(trainer.fit_loop.max_epochs or 0, epochs)
    try:
        yield
    finally:
        (
            trainer.check_val_every_n_epoch,
            trainer.num_sanity_val_steps,
            trainer.fit_loop.max_epochs,
        ) = saved
