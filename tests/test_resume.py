"""Interrupting after the first epoch and resuming from last.ckpt ends where one run would."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch

from drone_seg.train import train

SHORT = (
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "callbacks.images.every_n_epochs=100",
    "data.batch_size=2",
)


class StopAfterFirstEpoch(L.Callback):
    """Simulates an interruption: stop once the first epoch (and its checkpoint) is done."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            trainer.should_stop = True


def run(train_config, *overrides: str) -> Path:
    cfg = train_config(*SHORT, *overrides)
    train(cfg)
    return Path(cfg.paths.output_dir)


def test_resumed_run_matches_uninterrupted_run(train_config) -> None:
    whole = run(train_config)
    whole_metrics = json.loads((whole / "metrics.json").read_text())
    whole_state = torch.load(whole / "checkpoints" / "last.ckpt", weights_only=False)

    stop = "+callbacks.stop._target_=test_resume.StopAfterFirstEpoch"
    first = run(train_config, stop)
    checkpoint = first / "checkpoints" / "last.ckpt"
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 0
    resumed = run(train_config, f"ckpt_path={checkpoint}")

    resumed_metrics = json.loads((resumed / "metrics.json").read_text())
    assert resumed_metrics.keys() == whole_metrics.keys()
    for key, value in whole_metrics.items():
        assert resumed_metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    resumed_state = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=False)
    for name, tensor in whole_state["state_dict"].items():
        assert torch.allclose(resumed_state["state_dict"][name], tensor, atol=1e-6), name
    schedule = whole_state["lr_schedulers"][0]
    assert resumed_state["lr_schedulers"][0]["last_epoch"] == schedule["last_epoch"]
