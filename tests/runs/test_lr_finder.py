"""`tune_lr=true` runs the LR range test as `lr_finder` says, keeps its plot and suggestion, trains
nothing, and warns when the data is too small for its suggestion to mean much."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from drone_seg.config_checks import check_config
from drone_seg.errors import ConfigError
from drone_seg.models.module import SegmentationModule
from drone_seg.runs import lr_finder
from drone_seg.train import train

from helpers.cli import one_line_error, run_command
from helpers.config import TINY_TRAIN

# 20 steps from 1e-4 to 0.5, every step run (no early stop); one epoch allowed, fewer than needed.
SWEEP = (
    "tune_lr=true",
    "lr_finder.num_steps=20",
    "lr_finder.min_lr=1.0e-4",
    "lr_finder.max_lr=0.5",
    "lr_finder.early_stop_threshold=null",
    "trainer.max_epochs=1",
)
REPEATS = "training batches"  # in the warning about a finder that sees its batches again


def test_tune_lr_runs_the_configured_steps_within_the_range(
    train_config, caplog, monkeypatch
) -> None:
    validated = []
    monkeypatch.setattr(
        SegmentationModule, "validation_step", lambda self, *args: validated.append(args)
    )
    cfg = train_config(*SWEEP)  # 32 training images in batches of 4: 8 batches, 2.5 passes
    caplog.set_level("INFO")
    assert train(cfg) == {}
    run_dir = Path(cfg.paths.output_dir)
    assert (run_dir / "lr_finder.png").stat().st_size > 1000
    results = json.loads((run_dir / "lr_finder.json").read_text())
    assert len(results["lr"]) == len(results["loss"]) == results["num_steps"] == 20
    assert results["train_batches"] == 8 and results["mode"] == "exponential"
    assert all(1.0e-4 <= lr <= 0.5 * (1 + 1e-9) for lr in results["lr"])
    assert results["lr"] == sorted(results["lr"]) and results["lr"][-1] == pytest.approx(0.5)
    assert min(results["lr"]) <= results["suggestion"] <= max(results["lr"])
    assert f"optimizer.lr={results['suggestion']}" in caplog.text
    assert "20 steps see the 8 training batches 2.5 times each" in caplog.text
    assert validated == []  # the finder reads the training loss only
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "metrics.json").exists()


def test_no_warning_within_two_passes_over_the_batches(train_config, caplog) -> None:
    cfg = train_config(*SWEEP, "lr_finder.num_steps=16")  # 8 batches, 2 passes
    caplog.set_level("INFO")
    train(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "lr_finder.json").read_text())
    assert results["train_batches"] == 8 and len(results["lr"]) == 16
    assert REPEATS not in caplog.text


def test_a_suggestion_at_the_edge_of_the_range_is_flagged(caplog) -> None:
    settings = {"min_lr": 1.0e-6, "max_lr": 1.0}
    lrs = [10 ** (i / 4 - 6) for i in range(25)]
    inside = SimpleNamespace(results={"lr": lrs}, _optimal_idx=17)
    lr_finder._warn_about(inside, lrs[17], settings)
    assert caplog.text == ""
    for edge in (lr_finder.SKIP_BEGIN, len(lrs) - 1 - lr_finder.SKIP_END):
        at_edge = SimpleNamespace(results={"lr": lrs}, _optimal_idx=edge)
        lr_finder._warn_about(at_edge, lrs[edge], settings)
        assert f"suggestion {lrs[edge]:.3g} is at an edge" in caplog.text
    lr_finder._warn_about(SimpleNamespace(results={"lr": lrs[:5]}), None, settings)
    assert "no suggestion: 5 points" in caplog.text


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("lr_finder.num_steps=5", "lr_finder.num_steps=5 must be an integer >= 13"),
        ("lr_finder.min_lr=0", "lr_finder.min_lr=0 must be a number > 0"),
        ("lr_finder.mode=cosine", "lr_finder.mode=cosine must be one of exponential, linear"),
        ("lr_finder.early_stop_threshold=0.5", "lr_finder.early_stop_threshold=0.5 must be"),
    ],
)
def test_bad_lr_finder_values_are_refused_at_start_up(train_config, override, message) -> None:
    with pytest.raises(ConfigError, match=message):
        check_config(train_config("tune_lr=true", override), "train")


def test_a_falling_range_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run_command(
        "drone_seg.train", "tune_lr=true", "lr_finder.min_lr=1.0", "lr_finder.max_lr=0.1",
        f"paths.root_dir={tmp_path}", f"paths.data_dir={tmp_path / 'nothing'}", *TINY_TRAIN,
        expect_ok=False,
    )  # fmt: skip
    assert one_line_error(result) == (
        "error: lr_finder.min_lr=1.0 must be below lr_finder.max_lr=0.1: the range test raises "
        "the rate from one to the other"
    )
    assert not (tmp_path / "nothing").exists()  # refused before any data is made
