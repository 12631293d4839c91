"""Exact resume where users are: a run killed with SIGKILL and resumed, in its own folder and into
another, ends with the uninterrupted run's weights and scores, with the demo's default loader
(2 workers, persistent) and each data-order mechanism the project has.

Each case trains the shipped demo (`experiment=demo`: validation every third epoch and the last,
default callbacks and TensorBoard logger), scaled down only in image size, batches and epochs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.runs.run_dir import RunDir, read_metrics

from helpers.cli import kill_after_first_checkpoint, run_command
from helpers.config import SCALED

EPOCHS = 3
# The demo as shipped, smaller: workers, validation schedule, callbacks and logger stay as they are.
SHORT = (
    *SCALED,
    "trainer.limit_train_batches=3",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    f"trainer.max_epochs={EPOCHS}",
)
CASES = {
    "demo": (),
    "no_workers": ("data.num_workers=0",),
    # Every other data-order mechanism at once, validated every second epoch (as
    # experiment=ablation does).
    "mechanisms": (
        "data.sampler=rare_class",
        "augment.class_aware_crop.p=0.5",
        "augment.copy_paste.p=0.5",
        "callbacks=ema",
        "trainer.check_val_every_n_epoch=2",
    ),
    "ddp_cpu": ("trainer=ddp_cpu",),
}
# The demo as shipped runs in `make test`; the other configurations in `make test-all`.
PARAMS = [pytest.param(case, marks=() if case == "demo" else pytest.mark.slow) for case in CASES]


def train_args(root: Path, run_dir: Path, case: str) -> list[str]:
    return [f"data.root={root}", f"hydra.run.dir={run_dir}", *SHORT, *CASES[case]]


def val_dice_by_epoch(run: Path) -> dict[int, float]:
    """Each validated epoch's val/dice as the run's TensorBoard events hold it."""
    events = EventAccumulator(str(RunDir(run).tensorboard), size_guidance={"scalars": 0})
    events.Reload()
    epochs = {e.step: e.value for e in events.Scalars("epoch")}
    return {int(epochs[e.step]): e.value for e in events.Scalars("val/dice")}


def assert_same_weights(run: Path, reference: Path) -> None:
    """last.ckpt of both runs: same epoch, same weights (and EMA's raw weights) to 1e-6."""
    mine = torch.load(RunDir(run).last_checkpoint, weights_only=True)
    theirs = torch.load(RunDir(reference).last_checkpoint, weights_only=True)
    assert mine["epoch"] == theirs["epoch"] == EPOCHS - 1
    for key in ("state_dict", "current_model_state"):
        assert (key in mine) == (key in theirs), key
        for name, tensor in theirs.get(key, {}).items():
            torch.testing.assert_close(mine[key][name], tensor, rtol=0, atol=1e-6, msg=name)


@pytest.fixture(scope="module", params=PARAMS)
def runs(request, tmp_path_factory, synthetic_root: Path) -> Iterator[tuple[str, Path, Path]]:
    """(case, the uninterrupted run, the run killed after its first checkpoint)."""
    case = request.param
    base = tmp_path_factory.mktemp(case)
    whole, killed = base / "whole", base / "killed"
    run_command("drone_seg.train", *train_args(synthetic_root, whole, case))
    args = train_args(synthetic_root, killed, case)
    assert kill_after_first_checkpoint(args, RunDir(killed).last_checkpoint) < EPOCHS - 1
    yield case, whole, killed


def test_a_killed_run_resumed_into_another_folder_ends_as_the_uninterrupted_run(
    runs: tuple[str, Path, Path], tmp_path: Path
) -> None:
    case, whole, killed = runs
    other = tmp_path / "other"
    resumed_at = torch.load(RunDir(killed).last_checkpoint, weights_only=True)["epoch"] + 1
    run_command(
        "drone_seg.train", f"ckpt_path={RunDir(killed).last_checkpoint}", f"hydra.run.dir={other}"
    )
    assert_same_weights(other, whole)
    expected = val_dice_by_epoch(whole)
    scores = val_dice_by_epoch(other)
    assert sorted(scores) == [epoch for epoch in sorted(expected) if epoch >= resumed_at], case
    assert scores, case
    for epoch, value in scores.items():
        assert value == pytest.approx(expected[epoch], abs=1e-6), (case, epoch)


def test_a_killed_run_resumed_in_its_own_folder_ends_as_the_uninterrupted_run(
    runs: tuple[str, Path, Path],
) -> None:
    case, whole, killed = runs
    run_command("drone_seg.train", f"ckpt_path={RunDir(killed).last_checkpoint}")
    assert_same_weights(killed, whole)
    expected, metrics = read_metrics(whole / "metrics.json"), RunDir(killed).read_metrics()
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), (case, key)
    best = torch.load(RunDir(killed).best_checkpoint, weights_only=True)
    assert best["epoch"] == metrics["epoch"]
