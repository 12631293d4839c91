"""The ablation: its arms compose as documented, its table groups runs by arm, its multirun runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig

from drone_seg.classes import SMALL_CLASSES
from drone_seg.cli import CONFIG_DIR
from drone_seg.runs.ablation import ablation_rows, collect_arms, small_class_mean

from helpers.cli import run_command
from helpers.config import TINY_TRAIN, compose_config

# The experiment draws no pictures: TINY_TRAIN's setting for them does not apply.
NO_PICTURES_TINY = [o for o in TINY_TRAIN if not o.startswith("callbacks.images")]
ARMS = sorted(path.stem for path in (Path(CONFIG_DIR) / "ablation").glob("*.yaml"))


def train_composed(*overrides: str) -> DictConfig:
    return compose_config("train", *overrides)


def ablation_config(arm: str) -> DictConfig:
    return train_composed("experiment=ablation", f"ablation={arm}")


def test_the_sweep_covers_every_arm_with_three_seeds() -> None:
    params = ablation_config("recipe").hydra.sweeper.params
    assert sorted(params.ablation.split(",")) == ARMS
    assert params.seed.split(",") == ["0", "1", "2"]


def test_each_arm_changes_only_its_own_part_of_the_recipe() -> None:
    recipe = ablation_config("recipe")
    floor = ablation_config("floor")
    assert (floor.loss.focal_weight, floor.loss.dice_weight, floor.loss.gamma) == (1.0, 0.0, 0.0)
    assert floor.optimizer._target_ == "torch.optim.AdamW" and floor.optimizer.lr == 1.0e-3
    assert not floor.scheduler
    assert floor.hydra.runtime.choices.augment == "none"
    assert recipe.optimizer.lr == 0.05 and recipe.hydra.runtime.choices.augment == "light"
    assert ablation_config("rare_class").data.sampler == "rare_class"
    assert ablation_config("copy_paste").augment.copy_paste.p == 0.5
    assert ablation_config("class_aware_crop").augment.class_aware_crop.p == 0.5
    assert "ema" in ablation_config("ema").callbacks and "ema" not in recipe.callbacks
    baseline = ablation_config("augment_baseline")
    assert baseline.augment.crop_size == recipe.augment.crop_size  # the same crops for every arm
    for arm in ("recipe", "ema", "copy_paste", "dice"):
        assert ablation_config(arm).trainer.max_epochs == recipe.trainer.max_epochs


def test_the_demo_is_the_recipe_with_the_best_arm_copy_paste() -> None:
    demo, best = train_composed("experiment=demo"), ablation_config("copy_paste")
    assert ablation_config("recipe").augment.copy_paste.p == 0.0
    assert demo.augment == best.augment
    for group in ("loss", "optimizer", "scheduler", "model"):
        assert demo[group] == best[group]
    assert demo.data.sampler == best.data.sampler and "ema" not in demo.callbacks


def write_run(sweep: Path, job: int, arm: str, seed: int, metrics: dict | None) -> None:
    run = sweep / str(job)
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"ablation={arm}", f"seed={seed}"])
    )
    if metrics is None:
        (run / "error.txt").write_text("RuntimeError: out of memory\n")
    else:
        (run / "metrics.json").write_text(json.dumps(metrics))


def scores(dice: float, fg: float, small: float | None) -> dict:
    per_class = {f"val/dice_{name}": small for name in SMALL_CLASSES}
    return {"val/dice": dice, "val/dice_fg": fg, **per_class}


def test_the_table_gives_each_arm_its_mean_and_sample_spread(tmp_path: Path) -> None:
    write_run(tmp_path, 0, "floor", 0, scores(0.4, 0.3, 0.1))
    write_run(tmp_path, 1, "floor", 1, scores(0.6, 0.5, 0.3))
    write_run(tmp_path, 2, "ema", 0, scores(0.7, 0.6, 0.5))
    write_run(tmp_path, 3, "ema", 1, None)
    floor, ema = ablation_rows(collect_arms(tmp_path))
    assert floor == {
        "arm": "floor", "runs": "2", "failed": "0",
        "val/dice": "0.500 ± 0.141", "val/dice_fg": "0.400 ± 0.141", "small": "0.200 ± 0.141",
    }  # fmt: skip
    assert ema == {
        "arm": "ema", "runs": "1", "failed": "1",
        "val/dice": "0.700", "val/dice_fg": "0.600", "small": "0.500",
    }  # fmt: skip


def test_the_small_class_mean_leaves_out_undefined_classes() -> None:
    metrics = {f"val/dice_{name}": math.nan for name in SMALL_CLASSES}
    assert math.isnan(small_class_mean(metrics))
    metrics |= {"val/dice_person": 0.2, "val/dice_boat": 0.4, "val/dice_car": 0.9}
    assert small_class_mean(metrics) == pytest.approx(0.3)


def test_the_multirun_command_writes_the_ablation_table(
    tmp_path: Path, synthetic_root: Path
) -> None:
    """Two arms, two seeds: a sweep on the command line replaces the experiment's."""
    sweep_dir = tmp_path / "sweep"
    result = run_command(
        "drone_seg.train", "-m", "experiment=ablation", f"data.root={synthetic_root}",
        "ablation=floor,copy_paste", "seed=0,1",
        f"hydra.sweep.dir={sweep_dir}", f"paths.root_dir={tmp_path}", "trainer.max_epochs=1",
        "trainer.check_val_every_n_epoch=1", "trainer.limit_train_batches=2", *NO_PICTURES_TINY,
    )  # fmt: skip
    assert "Ablation table" in result.stdout
    lines = (sweep_dir / "ablation.md").read_text().splitlines()
    assert lines[0] == "| arm | runs | failed | val/dice | val/dice_fg | small |"
    assert [line.split(" | ")[:3] for line in lines[2:]] == [
        ["| floor", "2", "0"],
        ["| copy_paste", "2", "0"],
    ]
    for job in range(4):
        metrics = json.loads((sweep_dir / str(job) / "metrics.json").read_text())
        assert 0.0 <= metrics["val/dice"] <= 1.0
