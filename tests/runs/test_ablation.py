"""The ablation: its arms compose as documented, its table groups runs by arm, its multirun runs."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

from drone_seg.classes import SMALL_CLASSES
from drone_seg.cli import CONFIG_DIR
from drone_seg.runs.ablation import (
    MINUS,
    AblationTable,
    Differences,
    ablation_rows,
    collect_arms,
    differences_from_recipe,
    small_class_mean,
)

from helpers.cli import run_command
from helpers.config import TINY_TRAIN, compose_config

# The experiment draws no pictures: TINY_TRAIN's setting for them does not apply.
NO_PICTURES_TINY = [o for o in TINY_TRAIN if not o.startswith("callbacks.images")]
ARMS = sorted(path.stem for path in (Path(CONFIG_DIR) / "ablation").glob("*.yaml"))


def train_composed(*overrides: str) -> DictConfig:
    return compose_config("train", *overrides)


def ablation_config(arm: str) -> DictConfig:
    return train_composed("experiment=ablation", f"ablation={arm}")


def test_the_sweep_covers_every_arm_with_five_seeds() -> None:
    params = ablation_config("recipe").hydra.sweeper.params
    assert sorted(params.ablation.split(",")) == ARMS
    assert params.seed.split(",") == ["0", "1", "2", "3", "4"]


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


def test_the_demo_is_the_recipe_without_unseparated_arms() -> None:
    """No arm is separated from the recipe yet (docs/ablations.md): the demo takes none."""
    demo, recipe = train_composed("experiment=demo"), ablation_config("recipe")
    assert demo.augment == recipe.augment and demo.augment.copy_paste.p == 0.0
    for group in ("loss", "optimizer", "scheduler", "model"):
        assert demo[group] == recipe[group]
    assert demo.data.sampler == recipe.data.sampler == "uniform"
    assert "ema" not in demo.callbacks and "ema" not in recipe.callbacks


def write_run(
    sweep: Path, job: int, arm: str, seed: int, metrics: dict | None, *, overridden: bool = True
) -> None:
    """A run folder as a sweep leaves it; its seed an override, or only in its saved config."""
    run = sweep / str(job)
    (run / ".hydra").mkdir(parents=True)
    overrides = [f"ablation={arm}", *([f"seed={seed}"] if overridden else [])]
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"seed": seed}))
    if metrics is None:
        (run / "error.txt").write_text("RuntimeError: out of memory\n")
    else:
        (run / "metrics.json").write_text(json.dumps(metrics))


def scores(dice: float, fg: float, small: float | None) -> dict:
    per_class = {f"val/dice_{name}": small for name in SMALL_CLASSES}
    return {"val/dice": dice, "val/dice_fg": fg, **per_class}


def table(sweep: Path) -> tuple[list[dict[str, str]], Differences | None]:
    """The sweep's Markdown rows and its arms' differences from the recipe."""
    arms = collect_arms(sweep)
    differences = differences_from_recipe(arms)
    return ablation_rows(arms, differences), differences


def test_the_table_gives_each_arm_its_mean_and_sample_spread(tmp_path: Path) -> None:
    write_run(tmp_path, 0, "floor", 0, scores(0.4, 0.3, 0.1))
    write_run(tmp_path, 1, "floor", 1, scores(0.6, 0.5, 0.3))
    write_run(tmp_path, 2, "ema", 0, scores(0.7, 0.6, 0.5))
    write_run(tmp_path, 3, "ema", 1, None)
    (floor, ema), differences = table(tmp_path)
    assert differences is None  # no recipe arm: mean ± std only
    assert floor == {
        "arm": "floor", "runs": "2", "failed": "0",
        "val/dice": "0.500 ± 0.141", "val/dice_fg": "0.400 ± 0.141", "small": "0.200 ± 0.141",
    }  # fmt: skip
    assert ema == {
        "arm": "ema", "runs": "1", "failed": "1",
        "val/dice": "0.700", "val/dice_fg": "0.600", "small": "0.500",
    }  # fmt: skip


def test_differences_pair_runs_by_seed_in_any_launch_order(tmp_path: Path) -> None:
    """Three pairs: the 95% interval is mean ± t(0.975, 2) * sd / sqrt(3), t(0.975, 2) = 4.303."""
    for job, (seed, dice, small) in enumerate([(0, 0.40, 0.10), (1, 0.50, 0.20), (2, 0.60, 0.30)]):
        write_run(tmp_path, job, "recipe", seed, scores(dice, 0.3, small))
    # Seeds 2, 0, 1: val/dice differences 0.04, 0.02, 0.03; small ones 0.04, -0.01, 0.00.
    for job, (seed, dice, small) in enumerate([(2, 0.64, 0.34), (0, 0.42, 0.09), (1, 0.53, 0.20)]):
        write_run(tmp_path, 3 + job, "copy_paste", seed, scores(dice, 0.3, small))
    (recipe, copy_paste), differences = table(tmp_path)
    dice = differences["copy_paste"]["val/dice"]
    # mean 0.03, sd 0.01: half-width 4.303 * 0.01 / sqrt(3) = 0.024843
    assert (dice.mean, dice.pairs, dice.separated) == (pytest.approx(0.03), 3, "yes")
    assert (dice.low, dice.high) == (
        pytest.approx(0.005157, abs=2e-6),
        pytest.approx(0.054843, abs=2e-6),
    )
    small = differences["copy_paste"]["small"]
    # mean 0.01, sd sqrt(0.0007) = 0.026458: half-width 4.303 * 0.026458 / sqrt(3) = 0.065730
    assert (small.mean, small.pairs, small.separated) == (pytest.approx(0.01), 3, "no")
    assert (small.low, small.high) == (
        pytest.approx(-0.05573, abs=2e-5),
        pytest.approx(0.07573, abs=2e-5),
    )
    assert "recipe" not in differences
    assert copy_paste == {
        "arm": "copy_paste", "runs": "3", "failed": "0",
        "val/dice": "0.530 ± 0.110", "val/dice_fg": "0.300 ± 0.000", "small": "0.210 ± 0.125",
        "pairs": "3",
        f"val/dice {MINUS} recipe": "+0.030 [+0.005, +0.055]", "val/dice separated": "yes",
        f"small {MINUS} recipe": f"+0.010 [{MINUS}0.056, +0.076]", "small separated": "no",
    }  # fmt: skip
    assert recipe == {
        "arm": "recipe", "runs": "3", "failed": "0",
        "val/dice": "0.500 ± 0.100", "val/dice_fg": "0.300 ± 0.000", "small": "0.200 ± 0.100",
        "pairs": "", f"val/dice {MINUS} recipe": "", "val/dice separated": "",
        f"small {MINUS} recipe": "", "small separated": "",
    }  # fmt: skip


def test_a_failed_run_drops_only_its_own_pair(tmp_path: Path) -> None:
    for seed in range(4):
        write_run(tmp_path, seed, "recipe", seed, scores(0.50, 0.4, 0.20))
    write_run(tmp_path, 4, "recipe", 4, None)
    write_run(tmp_path, 5, "floor", 0, scores(0.45, 0.4, 0.15))
    write_run(tmp_path, 6, "floor", 1, None)
    write_run(tmp_path, 7, "floor", 2, scores(0.47, 0.4, 0.19))
    write_run(tmp_path, 8, "floor", 3, scores(0.46, 0.4, None))  # no small class defined
    write_run(tmp_path, 9, "floor", 4, scores(0.40, 0.4, 0.10))  # its recipe run failed
    (_, floor), _ = table(tmp_path)
    # val/dice: seeds 0, 2, 3 (-0.05, -0.03, -0.04); half-width 4.303 * 0.01 / sqrt(3) = 0.0248.
    # small: seeds 0, 2 (-0.05, -0.01); half-width t(0.975, 1) * 0.0283 / sqrt(2) = 12.706 * 0.02.
    assert floor == {
        "arm": "floor", "runs": "4", "failed": "1",
        "val/dice": "0.445 ± 0.031", "val/dice_fg": "0.400 ± 0.000", "small": "0.147 ± 0.045",
        "pairs": "3",
        f"val/dice {MINUS} recipe": f"{MINUS}0.040 [{MINUS}0.065, {MINUS}0.015]",
        "val/dice separated": "yes",
        f"small {MINUS} recipe": f"{MINUS}0.030 [{MINUS}0.284, +0.224] (2 pairs)",
        "small separated": "no",
    }  # fmt: skip


def test_one_pair_gives_the_difference_alone_and_no_verdict(tmp_path: Path) -> None:
    write_run(tmp_path, 0, "recipe", 0, scores(0.5, 0.4, 0.2))
    write_run(tmp_path, 1, "ema", 0, scores(0.6, 0.4, 0.2))
    write_run(tmp_path, 2, "ema", 1, scores(0.7, 0.4, 0.2))
    (_, ema), differences = table(tmp_path)
    dice = differences["ema"]["val/dice"]
    assert (dice.pairs, dice.separated) == (1, "n/a") and math.isnan(dice.low)
    assert (ema["pairs"], ema[f"val/dice {MINUS} recipe"], ema["val/dice separated"]) == (
        "1",
        "+0.100",
        "n/a",
    )


def test_the_seed_comes_from_the_saved_config_when_not_overridden(tmp_path: Path) -> None:
    write_run(tmp_path, 0, "recipe", 5, scores(0.5, 0.4, 0.2), overridden=False)
    write_run(tmp_path, 1, "recipe", 6, scores(0.6, 0.4, 0.2), overridden=False)
    write_run(tmp_path, 2, "dice", 6, scores(0.8, 0.4, 0.2))
    write_run(tmp_path, 3, "dice", 5, scores(0.6, 0.4, 0.2))
    _, differences = table(tmp_path)
    dice = differences["dice"]["val/dice"]
    assert (dice.pairs, dice.mean) == (2, pytest.approx(0.15))  # seed 5: +0.1, seed 6: +0.2


def test_a_seed_run_twice_pairs_its_first_run_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_run(tmp_path, 0, "recipe", 0, scores(0.5, 0.4, 0.2))
    write_run(tmp_path, 1, "focal", 0, scores(0.6, 0.4, 0.2))
    write_run(tmp_path, 2, "focal", 0, scores(0.9, 0.4, 0.2))
    with caplog.at_level(logging.WARNING, logger="drone_seg"):
        _, differences = table(tmp_path)
    assert [r.getMessage() for r in caplog.records] == [
        "Arm focal has seed 0 twice: its pairs use the first run"
    ]
    assert differences["focal"]["val/dice"].mean == pytest.approx(0.1)


def run_callback(sweep: Path) -> None:
    AblationTable().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))


def test_the_csv_holds_the_same_figures_as_numbers(tmp_path: Path) -> None:
    for seed, recipe, arm in [(0, 0.40, 0.42), (1, 0.50, 0.53), (2, 0.60, 0.64)]:
        write_run(tmp_path, 2 * seed, "recipe", seed, scores(recipe, 0.3, 0.2))
        write_run(tmp_path, 2 * seed + 1, "focal", seed, scores(arm, 0.3, 0.2))
    run_callback(tmp_path)
    with (tmp_path / "ablation.csv").open(newline="") as file:
        recipe, focal = csv.DictReader(file)
    assert float(focal["val/dice mean"]) == pytest.approx(0.53)
    assert float(focal["val/dice std"]) == pytest.approx(0.11)
    assert float(focal["val/dice mean_diff"]) == pytest.approx(0.03)
    assert float(focal["val/dice ci_low"]) == pytest.approx(0.005157, abs=2e-6)
    assert float(focal["val/dice ci_high"]) == pytest.approx(0.054843, abs=2e-6)
    assert (focal["val/dice pairs"], focal["val/dice separated"]) == ("3", "yes")
    assert (focal["small mean_diff"], focal["small separated"]) == ("0.0", "no")
    assert recipe["val/dice mean_diff"] == recipe["small pairs"] == ""
    lines = (tmp_path / "ablation.md").read_text().splitlines()
    assert "paired by seed" in lines[0] and "95% t-interval" in lines[0]
    assert lines[5].startswith("| focal | 3 | 0 | 0.530 ± 0.110 |")


def test_without_a_recipe_arm_one_warning_and_mean_and_spread_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_run(tmp_path, 0, "floor", 0, scores(0.4, 0.3, 0.1))
    write_run(tmp_path, 1, "dice", 0, scores(0.5, 0.3, 0.1))
    with caplog.at_level(logging.WARNING, logger="drone_seg"):
        run_callback(tmp_path)
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith("No ablation=recipe run under") and "mean ± std only" in warning
    lines = (tmp_path / "ablation.md").read_text().splitlines()
    assert lines[2] == "| arm | runs | failed | val/dice | val/dice_fg | small |"
    with (tmp_path / "ablation.csv").open(newline="") as file:
        assert not any("diff" in column for column in next(csv.reader(file)))


def test_the_small_class_mean_leaves_out_undefined_classes() -> None:
    metrics = {f"val/dice_{name}": math.nan for name in SMALL_CLASSES}
    assert math.isnan(small_class_mean(metrics))
    metrics |= {"val/dice_person": 0.2, "val/dice_boat": 0.4, "val/dice_car": 0.9}
    assert small_class_mean(metrics) == pytest.approx(0.3)


@pytest.mark.slow  # a multirun of the ablation experiment (make test-all)
def test_the_multirun_command_writes_the_ablation_table(
    tmp_path: Path, synthetic_root: Path
) -> None:
    """Two arms, two seeds: a sweep on the command line replaces the experiment's."""
    sweep_dir = tmp_path / "sweep"
    result = run_command(
        "drone_seg.train", "-m", "experiment=ablation", f"data.root={synthetic_root}",
        "ablation=floor,recipe", "seed=0,1",
        f"hydra.sweep.dir={sweep_dir}", f"paths.root_dir={tmp_path}", "trainer.max_epochs=1",
        "trainer.check_val_every_n_epoch=1", "trainer.limit_train_batches=2", *NO_PICTURES_TINY,
    )  # fmt: skip
    assert "Ablation table" in result.stdout and "paired by seed" in result.stdout
    lines = (sweep_dir / "ablation.md").read_text().splitlines()
    assert lines[2] == (
        "| arm | runs | failed | val/dice | val/dice_fg | small | pairs "
        f"| val/dice {MINUS} recipe | val/dice separated | small {MINUS} recipe | small separated |"
    )
    floor, recipe = ([cell.strip() for cell in line[1:-1].split("|")] for line in lines[4:])
    assert floor[:3] == ["floor", "2", "0"] and recipe[:3] == ["recipe", "2", "0"]
    assert floor[6] == "2" and floor[8] in ("yes", "no")  # both seeds paired
    assert recipe[6:] == ["", "", "", "", ""]
    for job in range(4):
        metrics = json.loads((sweep_dir / str(job) / "metrics.json").read_text())
        assert 0.0 <= metrics["val/dice"] <= 1.0
