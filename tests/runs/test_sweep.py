"""Multiruns through the real CLI: grid summary, a failing run, Optuna search; launcher presets."""

from __future__ import annotations

import csv
import json
import math
import subprocess
from pathlib import Path

import pytest
import yaml
from hydra.utils import instantiate
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from drone_seg.runs.run_dir import read_metrics
from drone_seg.runs.sweep import collect_runs, ranked, summary_table, write_summary

from helpers.cli import run_command
from helpers.config import TINY_TRAIN, compose_config

# One short epoch per run on tiny images: a run takes a few seconds on a CPU.
SHORT = (
    *TINY_TRAIN,
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
)


def sweep(
    sweep_dir: Path, root: Path, *overrides: str, expect_ok: bool = True
) -> subprocess.CompletedProcess:
    """Run `python -m drone_seg.train -m` on the test data with `overrides` into `sweep_dir`."""
    return run_command(
        "drone_seg.train", "-m", f"data.root={root}", f"hydra.sweep.dir={sweep_dir}",
        f"paths.root_dir={sweep_dir.parent}", *SHORT, *overrides, expect_ok=expect_ok,
    )  # fmt: skip


def read_summary(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "summary.csv").open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def grid(tmp_path_factory, synthetic_root) -> tuple[Path, subprocess.CompletedProcess]:
    """The demo over a 2x2 grid of learning rate and focal gamma."""
    sweep_dir = tmp_path_factory.mktemp("grid") / "sweep"
    result = sweep(
        sweep_dir, synthetic_root, "experiment=demo", "optimizer.lr=0.01,0.02",
        "loss.gamma=1,2",
    )  # fmt: skip
    return sweep_dir, result


def test_grid_summary_has_one_row_per_run_best_first(grid) -> None:
    sweep_dir, result = grid
    rows = read_summary(sweep_dir)
    assert len(rows) == 4
    assert {(row["optimizer.lr"], row["loss.gamma"]) for row in rows} == {
        ("0.01", "1"), ("0.01", "2"), ("0.02", "1"), ("0.02", "2"),
    }  # fmt: skip
    assert "data.root" not in rows[0]  # the overrides every run shares are left out
    values = [float(row["val/dice"]) for row in rows]
    assert all(0.0 <= value <= 1.0 for value in values)
    assert values == sorted(values, reverse=True)
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4"]
    for row in rows:
        metrics = read_metrics(sweep_dir / row["job"] / "metrics.json")
        assert float(row["val/dice"]) == metrics["val/dice"]
        assert row["status"] == "ok" and row["error"] == ""
    markdown = (sweep_dir / "summary.md").read_text()
    assert markdown.count("\n") == 6 and "| optimizer.lr |" in markdown.splitlines()[0]
    assert "Sweep summary (4 runs, 0 failed)" in result.stdout


def test_grid_runs_compare_in_tensorboard_hparams(grid) -> None:
    sweep_dir, _ = grid
    learning_rates = set()
    for row in read_summary(sweep_dir):
        events = EventAccumulator(str(sweep_dir / row["job"] / "tensorboard")).Reload()
        content = events.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_start_info"]
        ).session_start_info
        experiment = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/experiment"]
        ).experiment
        learning_rates.add(start.hparams["optimizer.lr"].number_value)
        assert start.hparams["loss.gamma"].number_value == float(row["loss.gamma"])
        assert "best/val/dice" in {info.name.tag for info in experiment.metric_infos}
        [best] = events.Scalars("best/val/dice")
        assert best.value == pytest.approx(float(row["val/dice"]))
    assert learning_rates == {0.01, 0.02}


def test_failed_runs_are_listed_and_the_others_complete(tmp_path, synthetic_root) -> None:
    sweep_dir = tmp_path / "sweep"
    missing = tmp_path / "missing"
    result = sweep(
        sweep_dir, synthetic_root, "optimizer.lr=0.02,-1.0",
        f"data.root={synthetic_root},{missing}",
    )  # fmt: skip
    rows = read_summary(sweep_dir)
    assert len(rows) == 4
    ok, *failed = rows
    assert ok["status"] == "ok" and ok["rank"] == "1" and float(ok["val/dice"]) >= 0.0
    assert (ok["optimizer.lr"], ok["data.root"]) == ("0.02", str(synthetic_root))
    assert (sweep_dir / ok["job"] / "checkpoints" / "best.ckpt").is_file()
    assert [row["status"] for row in failed] == ["failed"] * 3
    assert all(row["val/dice"] == "" and row["rank"] == "" for row in failed)
    errors = {(row["optimizer.lr"], row["data.root"]): row["error"] for row in failed}
    assert errors[("-1.0", str(synthetic_root))] == (
        "ConfigError: optimizer.lr=-1.0 must be a number > 0"
    )
    assert errors[("0.02", str(missing))].startswith(f"DataError: data.root={missing} does not")
    assert "Sweep summary (4 runs, 3 failed)" in result.stdout


def test_a_sweep_whose_runs_all_fail_exits_non_zero_after_its_summary(
    tmp_path, synthetic_root
) -> None:
    sweep_dir = tmp_path / "sweep"
    result = sweep(sweep_dir, synthetic_root, "optimizer.lr=-1.0,-2.0", expect_ok=False)
    assert result.returncode != 0
    assert [row["status"] for row in read_summary(sweep_dir)] == ["failed", "failed"]
    assert f"error: all 2 runs failed: see {sweep_dir / 'summary.md'}" in result.stderr


@pytest.mark.slow  # hparams_search=optuna; the grid sweep is the default multirun
def test_optuna_search_reports_the_best_trial(tmp_path, synthetic_root) -> None:
    sweep_dir = tmp_path / "search"
    result = sweep(sweep_dir, synthetic_root, "hparams_search=optuna", "hydra.sweeper.n_trials=3")
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    rows = read_summary(sweep_dir)
    assert len(rows) == 3 and all(row["status"] == "ok" for row in rows)
    space = {
        "optimizer.lr", "optimizer.weight_decay", "loss.focal_weight", "loss.dice_weight",
        "loss.gamma",
    }  # fmt: skip
    assert results["best_params"].keys() == space and space <= rows[0].keys()
    assert len({row["optimizer.lr"] for row in rows}) == 3  # each trial its own parameters
    best = results["best_params"]
    [best_row] = [row for row in rows if float(row["optimizer.lr"]) == best["optimizer.lr"]]
    assert float(best_row["loss.gamma"]) == best["loss.gamma"]
    assert 0.005 <= best["optimizer.lr"] <= 0.1
    assert float(best_row["val/dice"]) == results["best_value"] == float(rows[0]["val/dice"])
    assert "Best value" in result.stdout + result.stderr


def test_summary_ranks_runs_and_explains_failures(tmp_path) -> None:
    for job, lr, files in [
        ("0", "0.1", {"metrics.json": json.dumps({"val/dice": 0.2, "epoch": 3})}),
        ("1", "0.2", {"error.txt": "ValueError: boom | bang\n"}),
        ("2", "0.3", {}),  # killed before its first epoch: neither file
        ("10", "0.4", {"metrics.json": json.dumps({"val/dice": 0.5, "epoch": 1})}),
    ]:
        (tmp_path / job / ".hydra").mkdir(parents=True)
        overrides = ["experiment=demo", f"optimizer.lr={lr}"]
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        for name, text in files.items():
            (tmp_path / job / name).write_text(text)
    runs = ranked(collect_runs(tmp_path))
    assert [run.job for run in runs] == ["10", "0", "1", "2"]
    rows = summary_table(runs)
    assert [row["rank"] for row in rows] == ["1", "2", "", ""]
    assert [row["optimizer.lr"] for row in rows] == ["0.4", "0.1", "0.2", "0.3"]
    assert "experiment" not in rows[0]
    assert rows[2]["error"] == "ValueError: boom | bang"
    assert rows[3]["error"].startswith("no val/dice in metrics.json")
    table = write_summary(rows, tmp_path)
    assert "| 1 | 10 | ok | 0.5000 | 1 | 0.4 |  |" in table
    assert "boom \\| bang" in table
    assert read_summary(tmp_path)[1]["val/dice"] == "0.2"
    assert math.isnan(runs[3].value)


def compose_train(*overrides: str) -> DictConfig:
    return compose_config("train", *overrides)


def test_submitit_slurm_preset_matches_the_trainer(tmp_path) -> None:
    cfg = compose_train(
        "hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "trainer=ddp",
        "trainer.devices=8", "trainer.num_nodes=2", f"hydra.sweep.dir={tmp_path}",
    )  # fmt: skip
    assert (cfg.trainer.strategy, cfg.trainer.sync_batchnorm) == ("ddp", True)
    launcher = instantiate(cfg.hydra.launcher)  # builds the launcher; submits nothing
    assert type(launcher).__name__ == "SlurmLauncher"
    params = launcher.params
    assert (params["nodes"], params["gpus_per_node"], params["tasks_per_node"]) == (2, 8, 8)
    assert params["partition"] == "gpu" and params["max_num_timeout"] == 0
    assert params["submitit_folder"] == f"{tmp_path}/.submitit/%j"
    # The preset replaces the plugin's config, so its schema no longer checks the keys: this does.
    assert set(params) <= set(OmegaConf.structured(SlurmQueueConf).keys())


def test_parallel_preset_uses_joblib() -> None:
    cfg = compose_train("hydra/launcher=parallel", "hydra.launcher.n_jobs=3")
    assert cfg.hydra.launcher._target_.endswith("joblib_launcher.JoblibLauncher")
    assert cfg.hydra.launcher.n_jobs == 3


def test_optuna_search_space_composes() -> None:
    cfg = compose_train("hparams_search=optuna")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("optuna_sweeper.OptunaSweeper")
    assert sweeper.direction == "maximize" and sweeper.sampler.seed == 42
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert sweeper.params["optimizer.lr"] == "tag(log, interval(0.005, 0.1))"
    assert cfg.hydra.mode.name == "MULTIRUN"
