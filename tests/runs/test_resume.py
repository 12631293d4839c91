"""Resuming: in the run's folder, after a SIGKILL, extending a finished run, refusing a clash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from drone_seg.runs.run_dir import RunDir, read_metrics

from helpers.cli import kill_after_first_checkpoint, one_line_error, run_command
from helpers.config import TINY_TRAIN

EPOCHS = 4
BATCHES = 3
SHORT = (*TINY_TRAIN, "data.batch_size=2", f"trainer.limit_train_batches={BATCHES}")


def train_args(root: Path, run_dir: Path, *overrides: str) -> list[str]:
    return [f"data.root={root}", f"hydra.run.dir={run_dir}", *SHORT, *overrides]


@pytest.fixture(scope="module")
def whole(tmp_path_factory, synthetic_root: Path) -> Path:
    """An uninterrupted run of EPOCHS epochs."""
    run_dir = tmp_path_factory.mktemp("whole") / "run"
    run_command(
        "drone_seg.train", *train_args(synthetic_root, run_dir, f"trainer.max_epochs={EPOCHS}")
    )
    return run_dir


def val_dice_of(checkpoint: Path, out: Path) -> float:
    """val/dice of `checkpoint` as the eval command scores it."""
    run_command("drone_seg.eval", f"ckpt_path={checkpoint}", f"hydra.run.dir={out}")
    return read_metrics(out / "metrics.json")["val/dice"]


@pytest.mark.slow  # with workers 0: test_exact_resume proves it with the shipped loaders
def test_a_killed_run_resumed_ends_where_an_uninterrupted_run_ends(
    whole: Path, tmp_path: Path, synthetic_root: Path
) -> None:
    run = RunDir(tmp_path / "killed")
    args = train_args(synthetic_root, run.path, f"trainer.max_epochs={EPOCHS}")
    assert kill_after_first_checkpoint(args, run.last_checkpoint) < EPOCHS - 1
    result = run_command("drone_seg.train", f"ckpt_path={run.last_checkpoint}")
    assert f"Run directory: {run.path}" in result.stdout

    expected, metrics = read_metrics(whole / "metrics.json"), run.read_metrics()
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    assert f"Best validation epoch {metrics['epoch']}:" in result.stdout
    best = torch.load(run.best_checkpoint, weights_only=True)
    assert best["epoch"] == metrics["epoch"]
    scores = [c["best_model_score"] for k, c in best["callbacks"].items() if "val/dice" in k]
    assert float(scores[0]) == pytest.approx(metrics["val/dice"], abs=1e-6)

    last = torch.load(run.last_checkpoint, weights_only=True)
    whole_last = torch.load(RunDir(whole).last_checkpoint, weights_only=True)
    assert last["epoch"] == whole_last["epoch"] == EPOCHS - 1
    for name, tensor in whole_last["state_dict"].items():
        torch.testing.assert_close(last["state_dict"][name], tensor, rtol=0, atol=1e-6)
    final = val_dice_of(run.last_checkpoint, tmp_path / "eval-last")
    assert final == pytest.approx(
        val_dice_of(whole / "checkpoints" / "last.ckpt", tmp_path / "w"), abs=1e-6
    )
    assert val_dice_of(run.best_checkpoint, tmp_path / "eval-best") == pytest.approx(
        metrics["val/dice"], abs=1e-6
    )
    assert (run.path / ".hydra" / "config.yaml").is_file()
    assert list((run.path / ".hydra").glob("resume-*/config.yaml"))


def one_cycle_end(peak: float, steps: int) -> float:
    """The learning rate a 1-cycle schedule planned for `steps` ends at (conf/scheduler)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=peak, total_steps=steps, pct_start=0.1, div_factor=25.0,
        final_div_factor=1e4, cycle_momentum=False,
    )  # fmt: skip
    for _ in range(steps):
        optimizer.step()
        schedule.step()
    return schedule.get_last_lr()[0]


def test_extending_a_finished_run_replans_its_one_cycle_schedule(whole: Path, tmp_path) -> None:
    run = RunDir(tmp_path / "extended")
    shutil.copytree(whole, run.path)
    longer = EPOCHS + 2
    result = run_command(
        "drone_seg.train", f"ckpt_path={run.last_checkpoint}", f"trainer.max_epochs={longer}"
    )
    assert f"Re-planned the 1-cycle schedule from {EPOCHS * BATCHES} to {longer * BATCHES}" in (
        result.stderr + (run.path / "train.log").read_text()
    )
    last = torch.load(run.last_checkpoint, weights_only=True)
    schedule = last["lr_schedulers"][0]
    assert last["epoch"] == longer - 1
    assert schedule["total_steps"] == schedule["last_epoch"] == longer * BATCHES
    peak = last["optimizer_states"][0]["param_groups"][0]["max_lr"]
    assert schedule["_last_lr"][0] == pytest.approx(one_cycle_end(peak, longer * BATCHES))
    metrics = run.read_metrics()
    assert torch.load(run.best_checkpoint, weights_only=True)["epoch"] == metrics["epoch"]


def test_a_second_run_into_a_folder_holding_checkpoints_is_refused(
    whole: Path, tmp_path: Path, synthetic_root: Path
) -> None:
    run = RunDir(tmp_path / "taken")
    shutil.copytree(whole, run.path)
    before = run.last_checkpoint.read_bytes()
    result = run_command("drone_seg.train", *train_args(synthetic_root, run.path), expect_ok=False)
    message = one_line_error(result)
    assert "already holds checkpoints" in message and f"ckpt_path={run.last_checkpoint}" in message
    assert run.last_checkpoint.read_bytes() == before
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["best.ckpt", "last.ckpt"]


def test_resuming_into_another_folder_keeps_best_checkpoint_and_metrics_in_step(
    whole: Path, tmp_path: Path
) -> None:
    other = RunDir(tmp_path / "other")
    run_command(
        "drone_seg.train",
        f"ckpt_path={RunDir(whole).last_checkpoint}",
        f"hydra.run.dir={other.path}",
        f"trainer.max_epochs={EPOCHS + 1}",
    )
    metrics = other.read_metrics()
    assert metrics["epoch"] == EPOCHS  # the only epoch run there
    assert torch.load(other.best_checkpoint, weights_only=True)["epoch"] == metrics["epoch"]


def test_resuming_with_other_val_images_says_the_scores_are_not_comparable(
    whole: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other_split"
    result = run_command(
        "drone_seg.train",
        f"ckpt_path={RunDir(whole).last_checkpoint}",
        f"hydra.run.dir={other}",
        f"trainer.max_epochs={EPOCHS + 1}",
        "data.val_fraction=0.4",
    )
    output = result.stderr + (other / "train.log").read_text()
    assert "Resuming with data.val_fraction changed" in output
    assert f"The val images differ from those of {RunDir(whole).last_checkpoint}" in output
