"""`drone_seg.eval` on a trained demo checkpoint reproduces training's val metrics."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from drone_seg.classes import CLASS_NAMES, SMALL_CLASSES
from drone_seg.errors import ConfigError
from drone_seg.eval import evaluate, with_training_data
from drone_seg.runs.checkpoint import read_record
from drone_seg.runs.run_dir import RunDir, read_metrics

from helpers.cli import one_line_error, run_command
from helpers.config import compose_config

SIZES = ["augment.crop_size=[64,64]", "augment.val_size=[96,160]", "data.num_workers=0"]


@pytest.fixture(scope="module")
def trained(shared_run: RunDir) -> Path:
    """The session's shared run: split_seed 7 (not the default), so eval must read it."""
    return shared_run.path


def assert_same_metrics(scored: dict[str, float], logged: dict[str, float]) -> None:
    """Every val metric training logged for the best epoch, to 1e-6 (NaN for absent classes)."""
    expected = {key: value for key, value in logged.items() if key.startswith("val/")}
    assert scored.keys() == expected.keys()
    for key, value in expected.items():
        assert scored[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key


@pytest.fixture(scope="module")
def evaluated(trained: Path, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """eval of the trained run's best checkpoint with the defaults: its folder and its output."""
    out = tmp_path_factory.mktemp("evaluated") / "eval"
    result = run_command(
        "drone_seg.eval", f"ckpt_path={trained}/checkpoints/best.ckpt", f"hydra.run.dir={out}"
    )
    return out, result


def test_eval_reproduces_training_metrics(trained: Path, evaluated, synthetic_root) -> None:
    out, result = evaluated
    logged = read_metrics(trained / "metrics.json")
    scored = read_metrics(out / "metrics.json")
    assert_same_metrics(scored, logged)
    assert abs(scored["val/dice"] - logged["val/dice"]) <= 1e-6
    assert "| class | Dice | IoU | Precision | Recall |" in result.stdout
    assert f"Run directory: {out}" in result.stdout
    with (out / "metrics.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["class"] for row in rows[:12]] == list(CLASS_NAMES)
    for row in rows[:12]:
        for score in ("dice", "iou", "precision", "recall"):
            value = scored[f"val/{score}_{row['class']}"]
            assert float(row[score]) == pytest.approx(value, nan_ok=True)
    means = [(float(row["dice"]), float(row["iou"])) for row in rows[12:]]
    small = [[scored[f"val/{s}_{name}"] for name in SMALL_CLASSES] for s in ("dice", "iou")]
    assert means == [
        (scored["val/dice"], scored["val/iou"]),
        (scored["val/dice_fg"], scored["val/iou_fg"]),
        tuple(pytest.approx(float(np.nanmean(values))) for values in small),
    ]
    markdown = (out / "metrics.md").read_text()
    assert "Data settings: the checkpoint's run\n" in markdown
    assert f"Images: 8 val images of {synthetic_root}\n" in markdown
    assert "| mean (11, no background) |" in markdown
    picture = cv2.imread(str(out / "confusion_matrix.png"))
    assert picture is not None and picture.shape[0] == picture.shape[1] > 12 * 30


def test_eval_is_the_validation_loop_by_default_and_its_log_holds_the_tables(evaluated) -> None:
    """The multi-view protocol is one switch away (protocol.enabled=true), not the default."""
    out, result = evaluated
    assert not (out / "protocol.json").exists() and "Protocol" not in result.stdout
    log = (out / "eval.log").read_text()
    assert "| class | Dice | IoU | Precision | Recall |" in log
    assert log.rstrip().endswith(f"Run directory: {out}")


def test_a_refused_eval_leaves_the_earlier_evals_folder_as_it_was(trained: Path, evaluated) -> None:
    out, _ = evaluated
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert out / ".hydra" / "overrides.yaml" in before and out / "eval.log" in before
    result = run_command(
        "drone_seg.eval", f"ckpt_path={trained}/checkpoints/last.ckpt", f"hydra.run.dir={out}",
        expect_ok=False,
    )  # fmt: skip
    assert "overwrite=true" in one_line_error(result)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_copied_checkpoint_alone_scores_what_training_logged(
    trained: Path, tmp_path: Path
) -> None:
    """Data settings, split and val size travel inside the checkpoint: no run folder needed."""
    checkpoint = tmp_path / "copied" / "best.ckpt"
    checkpoint.parent.mkdir()
    shutil.copy(trained / "checkpoints" / "best.ckpt", checkpoint)
    out = tmp_path / "eval"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    run_command("drone_seg.eval", f"ckpt_path={checkpoint}", f"hydra.run.dir={out}", cwd=elsewhere)
    assert_same_metrics(
        read_metrics(out / "metrics.json"),
        read_metrics(trained / "metrics.json"),
    )
    assert (out / "split.csv").read_text() == (trained / "split.csv").read_text()
    assert "Data settings: the checkpoint's run\n" in (out / "metrics.md").read_text()


def test_eval_scores_the_val_rows_of_a_split_file(trained: Path, tmp_path, synthetic_root) -> None:
    split_file = trained / "split.csv"
    out = tmp_path / "eval"
    cfg = compose_config(
        "eval", f"ckpt_path={trained}/checkpoints/best.ckpt", f"data.root={synthetic_root}",
        f"data.split_file={split_file}", "trainer.accelerator=cpu", *SIZES, run_dir=out,
    )  # fmt: skip
    scored = evaluate(cfg).metrics
    assert_same_metrics(scored, read_metrics(trained / "metrics.json"))
    assert read_metrics(out / "metrics.json") == pytest.approx(scored, nan_ok=True)
    markdown = (out / "metrics.md").read_text()
    assert "Split: this command's data.split_file\n" in markdown
    assert "with this command's data.root, data.split_file" in markdown


def test_command_line_data_settings_apply_on_top_of_training(trained: Path) -> None:
    record = read_record(trained / "checkpoints" / "best.ckpt")[1]
    cfg = compose_config("eval", "ckpt_path=x", "augment.val_size=[64,96]", "data.root=/elsewhere")
    merged, source = with_training_data(cfg, record)
    assert merged.data.split_seed == 7  # training's
    assert merged.data.root == "/elsewhere"  # the command's
    resize = merged.data.val_transform.transforms[0]
    assert (resize.height, resize.width) == (64, 96)
    assert source.endswith("with this command's augment.val_size, data.root")
    untouched, source = with_training_data(compose_config("eval", "ckpt_path=x"), record)
    assert untouched.data.root == str(Path(record.data["root"]))
    assert untouched.augment.val_size == [96, 160] and source == "the checkpoint's run"


def test_a_split_of_the_command_line_replaces_the_checkpoints(trained: Path, tmp_path) -> None:
    out = tmp_path / "eval"
    cfg = compose_config(
        "eval", f"ckpt_path={trained}/checkpoints/best.ckpt", "data.split_seed=42",
        "trainer.accelerator=cpu", *SIZES, run_dir=out,
    )  # fmt: skip
    evaluate(cfg)
    markdown = (out / "metrics.md").read_text()
    assert "Split: this command's data.split_seed\n" in markdown
    assert not (out / "split.csv").exists()


def test_checkpoint_path_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ckpt"
    with pytest.raises(ConfigError, match=f"ckpt_path={missing} not found"):
        evaluate(compose_config("eval", f"ckpt_path={missing}", run_dir=tmp_path / "eval"))
