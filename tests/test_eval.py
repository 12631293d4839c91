"""`drone_seg.eval` on a trained demo checkpoint reproduces training's val metrics."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from drone_seg.classes import CLASS_NAMES
from drone_seg.errors import ConfigError
from drone_seg.eval import checkpoint_path, evaluate, val_data, with_training_data

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(REPO / "conf")
# One CPU thread per run: tiny runs gain nothing from more, and on a busy machine idle-spinning
# OpenMP threads make them several times slower.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
SIZES = ["augment.crop_size=[64,64]", "augment.val_size=[96,160]", "data.num_workers=0"]


def run(module: str, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", module, "trainer.accelerator=cpu", *overrides]
    result = subprocess.run(
        command, cwd=REPO, env=ONE_THREAD, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_root) -> Path:
    """A demo run of two short epochs; split_seed 7 (not the default) so eval must read it."""
    run_dir = tmp_path_factory.mktemp("eval") / "train"
    run(
        "drone_seg.train", f"data.root={synthetic_root}", f"hydra.run.dir={run_dir}",
        "trainer.max_epochs=2", "trainer.limit_train_batches=2", "trainer.num_sanity_val_steps=0",
        "data.batch_size=4", "data.split_seed=7", *SIZES,
    )  # fmt: skip
    return run_dir


def assert_same_metrics(scored: dict[str, float], logged: dict[str, float]) -> None:
    """Every val metric training logged for the best epoch, to 1e-6 (NaN for absent classes)."""
    expected = {key: value for key, value in logged.items() if key.startswith("val/")}
    assert scored.keys() == expected.keys()
    for key, value in expected.items():
        assert scored[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key


def test_eval_reproduces_training_metrics(trained: Path, tmp_path: Path, synthetic_root) -> None:
    out = tmp_path / "eval"
    result = run(
        "drone_seg.eval", f"ckpt_path={trained}/checkpoints/best.ckpt", f"hydra.run.dir={out}"
    )
    logged = json.loads((trained / "metrics.json").read_text())
    scored = json.loads((out / "metrics.json").read_text())
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
    assert means == [
        (scored["val/dice"], scored["val/iou"]),
        (scored["val/dice_fg"], scored["val/iou_fg"]),
    ]
    markdown = (out / "metrics.md").read_text()
    assert f"Data settings: {trained}/.hydra/config.yaml\n" in markdown
    assert f"Images: 8 val images of {synthetic_root}\n" in markdown
    assert "| mean (11, no background) |" in markdown
    picture = cv2.imread(str(out / "confusion_matrix.png"))
    assert picture is not None and picture.shape[0] == picture.shape[1] > 12 * 30


def compose_eval(*overrides: str, out: Path | None = None) -> DictConfig:
    """Compose eval.yaml as the CLI would, HydraConfig set (it lists the overrides, the run dir)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("eval", overrides=list(overrides), return_hydra_config=True)
    if out is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out)
    HydraConfig.instance().set_config(cfg)
    return cfg


def test_eval_scores_the_val_rows_of_a_split_file(trained: Path, tmp_path, synthetic_root) -> None:
    """A checkpoint without its run directory: the data settings and split come from the command."""
    checkpoint = tmp_path / "copied" / "best.ckpt"
    checkpoint.parent.mkdir()
    shutil.copy(trained / "checkpoints" / "best.ckpt", checkpoint)
    split_file = trained / "split.csv"
    out = tmp_path / "eval"
    cfg = compose_eval(
        f"ckpt_path={checkpoint}", f"data.root={synthetic_root}", f"data.split_file={split_file}",
        "trainer.accelerator=cpu", *SIZES, out=out,
    )  # fmt: skip
    scored = evaluate(cfg)
    assert_same_metrics(scored, json.loads((trained / "metrics.json").read_text()))
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(scored, nan_ok=True)
    markdown = (out / "metrics.md").read_text()
    assert f"Split: {split_file}\n" in markdown and "Data settings: this command" in markdown


def test_command_line_data_settings_apply_on_top_of_training(trained: Path) -> None:
    cfg = compose_eval("ckpt_path=x", "augment.val_size=[64,96]", "data.root=/elsewhere")
    merged, source = with_training_data(cfg, trained / ".hydra" / "config.yaml")
    assert merged.data.split_seed == 7  # training's
    assert merged.data.root == "/elsewhere"  # the command's
    resize = merged.data.val_transform.transforms[0]
    assert (resize.height, resize.width) == (64, 96)
    assert source.endswith("with this command's augment.val_size, data.root")
    bare, source = with_training_data(cfg, trained / "missing.yaml")
    assert bare.data.split_seed == 42 and source.startswith("this command")


def test_a_different_split_is_reported(trained: Path, synthetic_root: Path, caplog) -> None:
    cfg = compose_eval("ckpt_path=x", f"data.root={synthetic_root}", *SIZES)
    same, _ = with_training_data(cfg, trained / ".hydra" / "config.yaml")
    with caplog.at_level("WARNING"):
        val_data(same.data, trained / "split.csv")
    assert "not those of" not in caplog.text
    with caplog.at_level("WARNING"):
        val_data(cfg.data, trained / "split.csv")  # split seed 42, not training's 7
    assert f"Pass data.split_file={trained / 'split.csv'}" in caplog.text


def test_checkpoint_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ckpt_path is not set"):
        checkpoint_path(None)
    with pytest.raises(ConfigError, match="not found"):
        checkpoint_path(str(tmp_path / "missing.ckpt"))
