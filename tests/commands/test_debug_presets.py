"""debug=fdr|limit|overfit|profiler: each preset through the real config, doing what it says."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from hydra.utils import get_class
from lightning.pytorch.profilers import AdvancedProfiler, PyTorchProfiler, SimpleProfiler
from omegaconf import OmegaConf

from drone_seg.config_checks import check_config
from drone_seg.errors import ConfigError
from drone_seg.runs.run_dir import RunDir, write_metrics
from drone_seg.runs.sweep import collect_runs, ranked, summary_table
from drone_seg.train import train

from helpers.cli import run_command
from helpers.config import TINY, compose_config


@pytest.mark.parametrize("preset", ["fdr", "limit", "overfit", "profiler"])
def test_every_preset_loads_in_the_main_process_and_passes_the_checks(preset: str) -> None:
    # The baseline experiment asks for 8 workers; the preset, composed after it, wins.
    cfg = compose_config("train", "experiment=baseline", f"debug={preset}")
    assert cfg.data.num_workers == 0 and cfg.trainer.devices == 1
    assert (cfg.callbacks.images is None) == (preset != "limit")


def test_fdr_runs_one_batch_and_writes_no_checkpoint_logs_metrics_or_split(train_config) -> None:
    cfg = train_config("debug=fdr")
    assert cfg.trainer.fast_dev_run is True
    assert train(cfg)["epoch"] == 0  # it ran: one val batch was scored
    run = RunDir(Path(cfg.paths.output_dir))
    assert not run.metrics.exists() and not run.split.exists()
    assert not (run.path / "split_report.md").exists()
    assert not (run.path / "checkpoints").exists()
    assert not (run.path / "tensorboard").exists() and not (run.path / "images").exists()


def test_limit_runs_a_whole_short_run(train_config) -> None:
    cfg = train_config("debug=limit", "logger=none")
    best = train(cfg)
    run = RunDir(Path(cfg.paths.output_dir))
    last = torch.load(run.last_checkpoint, weights_only=True)
    assert (last["epoch"], last["global_step"]) == (2, 3 * 4)  # 3 epochs of 4 batches
    assert run.best_checkpoint.is_file() and 0.0 <= best["val/dice"] <= 1.0
    assert not run.metrics.exists() and not run.split.exists()  # a check, not a result
    pictures = {file.name for file in (run.path / "images").glob("*.png")}
    assert pictures == {"epoch_002_confusion.png", "epoch_002_predictions.png"}  # the last epoch
    assert not (run.path / "tensorboard").exists()  # logger=none


def test_overfit_makes_the_train_loss_fall(train_config) -> None:
    cfg = train_config("debug=overfit", "logger=csv", "trainer.max_epochs=6")
    train(cfg)
    with (Path(cfg.paths.output_dir) / "csv" / "metrics.csv").open() as table:
        losses = [float(row["train/loss_epoch"]) for row in csv.DictReader(table)
                  if row.get("train/loss_epoch")]  # fmt: skip
    assert len(losses) == 6
    assert losses[-1] < 0.6 * losses[0], losses


def test_profiler_writes_its_report_in_the_run_folder(train_config) -> None:
    cfg = train_config("debug=profiler", "trainer.limit_train_batches=2")
    train(cfg)
    report = Path(cfg.paths.output_dir) / "fit-profile.txt"
    text = report.read_text()
    assert "Profiler Report" in text and "run_training_epoch" in text


@pytest.mark.parametrize(
    ("choice", "profiler"),
    [("simple", SimpleProfiler), ("advanced", AdvancedProfiler), ("pytorch", PyTorchProfiler)],
)
def test_debug_profiler_picks_the_profiler(train_config, choice: str, profiler: type) -> None:
    cfg = train_config("debug=profiler", f"debug.profiler={choice}")
    assert get_class(cfg.trainer.profiler._target_) is profiler
    assert cfg.trainer.profiler.dirpath == cfg.paths.output_dir


def test_an_unknown_profiler_is_refused_in_one_line(train_config) -> None:
    cfg = train_config("debug=profiler", "debug.profiler=fast")
    with pytest.raises(ConfigError, match=r"^debug\.profiler=fast must be one of .*advanced"):
        check_config(cfg, "train")


def test_a_debug_run_of_a_sweep_is_listed_as_debug_never_ranked(tmp_path, synthetic_root) -> None:
    """`train -m debug=fdr optimizer.lr=0.01,-1`: the one-batch check is no result to rank."""
    sweep_dir = tmp_path / "sweep"
    result = run_command(
        "drone_seg.train", "-m", f"data.root={synthetic_root}", f"hydra.sweep.dir={sweep_dir}",
        "debug=fdr", "optimizer.lr=0.01,-1", *TINY,
    )  # fmt: skip
    assert "debug=fdr: every part of the run ran on a few batches; no scores kept" in result.stdout
    assert "Best validation epoch" not in result.stdout
    with (sweep_dir / "summary.csv").open(newline="") as file:
        checked, failed = csv.DictReader(file)
    assert (checked["job"], checked["status"], checked["rank"], checked["val/dice"]) == (
        "0", "debug", "", "",
    )  # fmt: skip
    assert checked["error"] == "a debug run (debug=fdr): a check, not a result"
    assert failed["status"] == "failed" and "optimizer.lr=-1" in failed["error"]
    assert not (sweep_dir / "0" / "metrics.json").exists()
    assert not (sweep_dir / "0" / "split.csv").exists()


def test_a_debug_run_that_wrote_metrics_is_never_ranked(tmp_path: Path) -> None:
    """A run folder whose config is a debug preset's, even with a metrics.json, stays unranked."""
    for job, preset, dice in (("0", "limit", 0.9), ("1", None, 0.2)):
        run = RunDir(tmp_path / job)
        run.config.parent.mkdir(parents=True)
        run.overrides.write_text(f"- seed={job}\n")
        run.config.write_text(OmegaConf.to_yaml({"debug": {"preset": preset}} if preset else {}))
        write_metrics(run.metrics, {"val/dice": dice, "epoch": 2})
    rows = summary_table(ranked(collect_runs(tmp_path)))
    assert [(row["job"], row["rank"], row["status"]) for row in rows] == [
        ("1", "1", "ok"), ("0", "", "debug"),
    ]  # fmt: skip
