"""Lightning's learning-rate range test, with its plot and suggestion kept in the run directory."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.tuner import Tuner

log = logging.getLogger(__name__)


def find_learning_rate(
    trainer: L.Trainer, module: L.LightningModule, datamodule: L.LightningDataModule, out: Path
) -> float | None:
    """Sweep the learning rate over a few hundred steps; save `lr_finder.png`/`.json` in `out`.

    The module's `optimizer.lr` is what the sweep changes; the suggestion (steepest loss descent)
    is a starting point for `optimizer.lr=`, which with the 1-cycle schedule is the peak rate.
    """
    finder = Tuner(trainer).lr_find(module, datamodule=datamodule, update_attr=False)
    suggestion = finder.suggestion()
    out.mkdir(parents=True, exist_ok=True)
    finder.plot(suggest=True).savefig(out / "lr_finder.png")
    results = {"suggestion": suggestion, "lr": finder.results["lr"], "loss": finder.results["loss"]}
    (out / "lr_finder.json").write_text(json.dumps(results, indent=2) + "\n")
    log.info("Learning-rate finder suggests optimizer.lr=%s", suggestion)
    return suggestion
