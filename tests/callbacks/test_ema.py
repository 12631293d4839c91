"""callbacks=ema: validation, best.ckpt and eval use the moving average of the weights."""

from __future__ import annotations

import torch

from drone_seg.callbacks.ema import horizon_warning
from drone_seg.runs.run_dir import RunDir, read_metrics

from helpers.cli import run_command
from helpers.config import TINY_TRAIN


def test_ema_weights_are_validated_checkpointed_and_evaluated(tmp_path, synthetic_root) -> None:
    run = RunDir(tmp_path / "run")
    result = run_command(
        "drone_seg.train", "callbacks=ema", f"data.root={synthetic_root}",
        f"hydra.run.dir={run.path}", "trainer.max_epochs=2", "trainer.limit_train_batches=3",
        *TINY_TRAIN,
    )  # fmt: skip
    # The shipped decay 0.99 against 6 planned steps: warned before training, in one line.
    warning = "callbacks.ema.decay=0.99 averages over about 100 optimizer steps, 1667% of the 6"
    assert warning in result.stdout + result.stderr
    best = torch.load(run.best_checkpoint, weights_only=True)
    averaged, raw = best["state_dict"], best["current_model_state"]
    name = next(key for key in raw if key.endswith(".weight") and raw[key].is_floating_point())
    assert not torch.equal(averaged[name], raw[name])  # the saved weights are the average
    run_command(
        "drone_seg.eval", f"ckpt_path={run.best_checkpoint}", f"hydra.run.dir={tmp_path / 'eval'}",
        "trainer.accelerator=cpu",
    )  # fmt: skip
    scored = read_metrics(tmp_path / "eval" / "metrics.json")["val/dice"]
    assert abs(scored - run.read_metrics()["val/dice"]) <= 1e-6  # validation scored the average


def test_the_horizon_warning_fires_only_when_the_memory_is_long_against_the_run() -> None:
    assert horizon_warning(0.95, 1, 120) is None  # 20 steps: 17% of the run
    assert horizon_warning(0.99, 1, 600) is None  # 100 steps: 17%
    assert horizon_warning(0.99, 1, 120) == (
        "callbacks.ema.decay=0.99 averages over about 100 optimizer steps, 83% of the 120 planned: "
        "validation and the checkpoints will hold early weights; use decay <= 0.958 for this run"
    )
    assert horizon_warning(0.9, 4, 100) is not None  # updated every 4th step: 40 steps of memory
