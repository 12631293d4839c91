"""debug=fdr|limit|overfit|profiler: each preset through the real config, doing what it says."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import get_class
from lightning.pytorch.profilers import AdvancedProfiler, PyTorchProfiler, SimpleProfiler

from drone_seg.cli import CONFIG_DIR
from drone_seg.config_checks import check_config
from drone_seg.errors import ConfigError
from drone_seg.runs.run_dir import RunDir
from drone_seg.train import train


@pytest.mark.parametrize("preset", ["fdr", "limit", "overfit", "profiler"])
def test_every_preset_loads_in_the_main_process_and_passes_the_checks(preset: str) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        # The baseline experiment asks for 8 workers; the preset, composed after it, wins.
        cfg = compose("train", overrides=["experiment=baseline", f"debug={preset}"])
    assert cfg.data.num_workers == 0 and cfg.trainer.devices == 1
    assert (cfg.callbacks.images is None) == (preset != "limit")


def test_fdr_runs_one_batch_and_writes_no_checkpoint_or_logs(train_config) -> None:
    cfg = train_config("debug=fdr")
    assert cfg.trainer.fast_dev_run is True
    train(cfg)
    run = RunDir(Path(cfg.paths.output_dir))
    assert run.split.is_file()  # it ran: the data was split
    assert not (run.path / "checkpoints").exists()
    assert not (run.path / "tensorboard").exists() and not (run.path / "images").exists()


def test_limit_runs_a_whole_short_run(train_config) -> None:
    cfg = train_config("debug=limit", "logger=none")
    train(cfg)
    run = RunDir(Path(cfg.paths.output_dir))
    last = torch.load(run.last_checkpoint, weights_only=True)
    assert (last["epoch"], last["global_step"]) == (2, 3 * 4)  # 3 epochs of 4 batches
    assert run.best_checkpoint.is_file() and 0.0 <= run.read_metrics()["val/dice"] <= 1.0
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
