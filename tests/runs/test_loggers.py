"""logger=tensorboard|csv|wandb|mlflow|many|none: metrics, hyperparameters and pictures reach every
logger that takes them, and the pictures are PNG files in the run folder whatever the logger."""

from __future__ import annotations

import csv
import sqlite3
import struct
from pathlib import Path

import pytest
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from omegaconf import OmegaConf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.config_checks import check_config
from drone_seg.errors import ConfigError
from drone_seg.runs import loggers
from drone_seg.runs.loggers import instantiate_loggers
from drone_seg.train import train

from helpers.cli import run_command
from helpers.config import TINY_TRAIN

# 4 epochs of the demo: validated at the 3rd (every third) and the 4th (the last).
SHORT = ("trainer.max_epochs=4", "trainer.limit_train_batches=2", "trainer.limit_val_batches=2")
PICTURES = {"epoch_003_confusion.png", "epoch_003_predictions.png"}  # the last epoch's, 0-based


def cli_train(run_dir: Path, synthetic_root: Path, *overrides: str) -> None:
    """Train through the real command line into `run_dir`."""
    run_command(
        "drone_seg.train", f"data.root={synthetic_root}", f"hydra.run.dir={run_dir}",
        f"paths.root_dir={run_dir.parent}", *TINY_TRAIN, *SHORT, *overrides,
    )  # fmt: skip


def pictures(run_dir: Path) -> set[str]:
    """The PNG files in <run>/images, checked to be RGB pictures."""
    files = sorted((run_dir / "images").glob("*.png"))
    for file in files:
        with Image.open(file) as picture:
            assert picture.mode == "RGB" and min(picture.size) > 100
    return {file.name for file in files}


def test_csv_and_tensorboard_together_get_metrics_hparams_and_pictures(train_config) -> None:
    cfg = train_config("logger=many", *SHORT)
    check_config(cfg, "train")
    train(cfg)
    run = Path(cfg.paths.output_dir)
    with (run / "csv" / "metrics.csv").open() as table:
        rows = list(csv.DictReader(table))
    dice = [float(row["val/dice"]) for row in rows if row.get("val/dice")]
    assert len(dice) == 2 and all(0.0 <= value <= 1.0 for value in dice)  # one per validation
    assert any(row.get("best/val/dice") for row in rows)
    hparams = OmegaConf.load(run / "csv" / "hparams.yaml")
    assert hparams["optimizer.lr"] == 0.05 and hparams["model.name"] == "lraspp_mobilenet_v3_large"
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert set(events.Tags()["images"]) == {"val/confusion_matrix", "val/predictions"}
    assert "val/dice" in events.Tags()["scalars"]
    assert pictures(run) == PICTURES


@pytest.mark.slow  # a logger preset beyond the default TensorBoard (make test-all)
def test_wandb_offline_run_holds_metrics_config_and_pictures(tmp_path, synthetic_root) -> None:
    run = tmp_path / "run"
    cli_train(run, synthetic_root, "logger=wandb")
    (offline,) = (run / "wandb").glob("offline-run-*")
    records = wandb_records(next(offline.glob("run-*.wandb")))
    history = [
        {wandb_key(item): item.value_json for item in r.history.item} for r in records["history"]
    ]
    assert len([step for step in history if "val/dice" in step]) == 2
    assert any("best/val/dice" in step for step in history)
    config = {wandb_key(item) for r in records["config"] for item in r.config.update}
    assert {"optimizer.lr", "model.name"} <= config
    media = {file.name.split("_")[0] for file in (offline / "files/media/images/val").glob("*.png")}
    assert media == {"confusion", "predictions"}
    assert pictures(run) == PICTURES


def wandb_key(item) -> str:
    """A history or config item's name: wandb stores `val/dice` as the nested key [val, dice]."""
    return item.key or "/".join(item.nested_key)


def wandb_records(path: Path) -> dict[str, list]:
    """The records of a wandb run file (a LevelDB-style log of protobuf records), by type."""
    from wandb.proto import wandb_internal_pb2

    data, block, position, pending = path.read_bytes(), 32768, 7, b""  # after the W&B header
    found: dict[str, list] = {}
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4) and pending:  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record.FromString(pending)
            found.setdefault(record.WhichOneof("record_type"), []).append(record)
            pending = b""
    return found


@pytest.mark.slow  # a logger preset beyond the default TensorBoard (make test-all)
def test_mlflow_store_in_the_run_folder_holds_metrics_params_and_pictures(train_config) -> None:
    cfg = train_config("logger=mlflow", *SHORT)
    check_config(cfg, "train")
    train(cfg)
    run = Path(cfg.paths.output_dir)
    with sqlite3.connect(run / "mlflow.db") as store:
        metrics = dict(store.execute("SELECT key, COUNT(*) FROM metrics GROUP BY key").fetchall())
        params = dict(store.execute("SELECT key, value FROM params").fetchall())
        (status,) = store.execute("SELECT status FROM runs").fetchone()
    assert metrics["val/dice"] == 2 and metrics["best/val/dice"] == 1
    assert params["optimizer.lr"] == "0.05"
    assert status == "FINISHED"
    (artifacts,) = (run / "mlflow").glob("*/artifacts/images")
    assert {file.name for file in artifacts.iterdir()} == PICTURES
    assert pictures(run) == PICTURES


def test_no_logger_still_writes_metrics_and_pictures(train_config) -> None:
    cfg = train_config("logger=none", *SHORT)
    assert instantiate_loggers(cfg.logger) is False
    best = train(cfg)
    run = Path(cfg.paths.output_dir)
    assert 0.0 <= best["val/dice"] <= 1.0 and (run / "metrics.json").is_file()
    assert pictures(run) == PICTURES
    assert not (run / "tensorboard").exists() and not (run / "csv").exists()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], [TensorBoardLogger]),
        (["logger=csv"], [CSVLogger]),
        (["logger=many"], [TensorBoardLogger, CSVLogger]),
        (["logger=[csv,tensorboard]"], [CSVLogger, TensorBoardLogger]),
        (["~logger"], []),
        (["logger=none"], []),
    ],
)
def test_logger_presets_build_their_loggers(train_config, overrides, expected) -> None:
    cfg = train_config(*overrides)
    check_config(cfg, "train")
    built = instantiate_loggers(cfg.get("logger")) or []
    assert [type(logger) for logger in built] == expected
    run = Path(cfg.paths.output_dir)
    for logger in built:  # each logger writes into the run folder
        assert Path(logger.log_dir).parent == run


def test_an_old_style_logger_target_is_refused_in_one_line(train_config) -> None:
    cfg = train_config("+logger._target_=lightning.pytorch.loggers.CSVLogger")
    with pytest.raises(ConfigError, match=r"^logger\._target_ is set.*logger=<tensorboard, csv"):
        check_config(cfg, "train")


@pytest.mark.parametrize("name", ["wandb", "mlflow"])
def test_a_missing_logger_package_names_logger_and_pip(train_config, monkeypatch, name) -> None:
    cfg = train_config(f"logger={name}")
    real = loggers.importlib.util.find_spec
    monkeypatch.setattr(
        loggers.importlib.util, "find_spec", lambda pkg: None if pkg == name else real(pkg)
    )
    with pytest.raises(ConfigError) as caught:
        check_config(cfg, "train")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"logger={name} needs the {name} package")
    assert f"pip install {name}" in message
