"""A checkpoint's run record cannot make a resumed run write outside its folder or reach the
network: crafted records are refused in one line, and nothing is written or connected to."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from drone_seg.errors import ConfigError
from drone_seg.runs.confinement import check_confined, check_data_confined
from drone_seg.runs.run_dir import RunDir

from helpers.cli import one_line_error, run_command
from helpers.trained import SHARED_EPOCHS

SOURCE = "ckpt_path=crafted.ckpt"


# One more epoch than the shared run's: a resume that would train.
LONGER = f"trainer.max_epochs={SHARED_EPOCHS + 1}"


@pytest.fixture(scope="module")
def finished(shared_run: RunDir) -> Path:
    """The session's shared run, to craft copies of its checkpoints from."""
    return shared_run.path


def crafted(finished: Path, where: Path, change: Callable[[dict], None]) -> RunDir:
    """A copy of the finished run whose last.ckpt's run record `change` has rewritten."""
    run = RunDir(where)
    shutil.copytree(finished, run.path)
    checkpoint = torch.load(run.last_checkpoint, weights_only=True)
    change(checkpoint["drone_seg"]["config"])
    torch.save(checkpoint, run.last_checkpoint)
    return run


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


def test_a_record_pointing_logger_checkpoints_and_trainer_outside_is_refused(
    finished: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"

    def point_outside(config: dict) -> None:
        config["logger"]["tensorboard"]["save_dir"] = str(outside)
        config["callbacks"]["best_checkpoint"]["dirpath"] = str(outside / "checkpoints")
        config["trainer"]["default_root_dir"] = str(outside)

    run = crafted(finished, tmp_path / "run", point_outside)
    before = files_under(run.path)
    result = run_command(
        "drone_seg.train", f"ckpt_path={run.last_checkpoint}", LONGER,
        expect_ok=False,
    )  # fmt: skip
    message = one_line_error(result)
    assert f"ckpt_path={run.last_checkpoint}" in message
    assert "is outside the run folder" in message
    assert files_under(outside) == []
    assert files_under(run.path) == before


def test_the_same_value_given_on_the_command_line_is_the_users_choice(
    finished: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"

    def log_elsewhere(config: dict) -> None:
        config["logger"]["tensorboard"]["save_dir"] = str(elsewhere)

    run = crafted(finished, tmp_path / "run", log_elsewhere)
    run_command(
        "drone_seg.train", f"ckpt_path={run.last_checkpoint}", LONGER,
        f"logger.tensorboard.save_dir={elsewhere}",
    )  # fmt: skip
    assert list((elsewhere / "tensorboard").glob("events.out.tfevents.*"))
    assert torch.load(run.last_checkpoint, weights_only=True)["epoch"] == SHARED_EPOCHS


@pytest.fixture
def listener() -> Iterator[tuple[int, list[tuple[str, int]]]]:
    """A TCP listener on 127.0.0.1: (its port, the peers that connected to it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    peers: list[tuple[str, int]] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except TimeoutError:
                continue
            peers.append(peer)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], peers
    stop.set()
    thread.join()
    server.close()


def test_a_record_sending_the_run_to_a_tracking_server_connects_to_nothing(
    finished: Path, tmp_path: Path, listener: tuple[int, list]
) -> None:
    port, peers = listener

    def track_remotely(config: dict) -> None:
        config["logger"] = {
            "mlflow": {
                "_target_": "lightning.pytorch.loggers.MLFlowLogger",
                "experiment_name": "crafted",
                "tracking_uri": f"http://127.0.0.1:{port}",
            }
        }

    run = crafted(finished, tmp_path / "run", track_remotely)
    result = run_command(
        "drone_seg.train", f"ckpt_path={run.last_checkpoint}", LONGER,
        expect_ok=False,
    )  # fmt: skip
    message = one_line_error(result)
    assert "logger.mlflow.tracking_uri" in message and "reaches the network" in message
    assert peers == []


# ----------------------------------------------------------------------- the rules, one by one


@pytest.fixture
def resumed(train_config) -> Callable[..., DictConfig]:
    """A composed training config to rewrite as a crafted record would."""
    return train_config


@pytest.mark.parametrize(
    "preset", ["logger=many", "callbacks=ema", "debug=profiler", "callbacks=early_stopping"]
)
def test_the_shipped_presets_stay_inside_the_run(resumed, preset: str) -> None:
    config = resumed(preset)
    check_confined(config, [], Path(config.paths.output_dir), SOURCE)
    check_data_confined(config, [], SOURCE)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("callbacks.last_checkpoint.dirpath", "/tmp/elsewhere", "is outside the run folder"),
        ("callbacks.best_metrics.path", "../metrics.json", "is outside the run folder"),
        ("logger.tensorboard.save_dir", None, "library's default"),
        ("callbacks.best_checkpoint.filename", "../../best", "not a plain name"),
        ("logger.tensorboard.name", "/tmp/tb", "not a plain name"),
        ("logger.tensorboard.version", "../v", "not a plain name"),
        ("trainer.default_root_dir", None, "library's default"),
    ],
)
def test_each_location_argument_must_stay_inside_the_run(
    resumed, key: str, value: object, problem: str
) -> None:
    config = resumed()
    OmegaConf.update(config, key, value, merge=False)
    with pytest.raises(ConfigError, match=problem) as error:
        check_confined(config, [], Path(config.paths.output_dir), SOURCE)
    assert str(error.value).startswith(f"{SOURCE} sets {key}=")
    check_confined(config, [key], Path(config.paths.output_dir), SOURCE)  # given: the user's


@pytest.mark.parametrize(
    ("logger", "problem"),
    [
        ({"_target_": "lightning.pytorch.loggers.WandbLogger", "offline": False}, "wandb"),
        ({"_target_": "lightning.pytorch.loggers.WandbLogger", "mode": "online"}, "wandb"),
        (
            {
                "_target_": "lightning.pytorch.loggers.MLFlowLogger",
                "tracking_uri": "https://tracking.example.org",
            },
            "reaches the network",
        ),
        (
            {
                "_target_": "lightning.pytorch.loggers.MLFlowLogger",
                "tracking_uri": "sqlite:////tmp/elsewhere/mlflow.db",
            },
            "is outside the run folder",
        ),
    ],
)
def test_loggers_stay_offline_and_local(resumed, logger: dict, problem: str) -> None:
    config = resumed()
    run = Path(config.paths.output_dir)
    config.logger = {"crafted": {**logger, "save_dir": str(run)}}
    with pytest.raises(ConfigError, match=problem):
        check_confined(config, [], run, SOURCE)


def test_a_local_mlflow_store_inside_the_run_is_accepted(resumed) -> None:
    config = resumed("logger=mlflow")
    assert str(config.logger.mlflow.tracking_uri).startswith("sqlite:///")
    check_confined(config, [], Path(config.paths.output_dir), SOURCE)


def test_data_keys_that_write_stay_in_the_data_folder(resumed, tmp_path: Path) -> None:
    config = resumed()
    config.data.synthetic = {"dir": str(tmp_path / "elsewhere" / "synthetic"), "num_images": 4}
    check_data_confined(config, [], SOURCE)  # data.root set: the synthetic set is not used
    config.data.root = None
    with pytest.raises(ConfigError, match=r"data\.synthetic\.dir"):
        check_data_confined(config, [], SOURCE)
    check_data_confined(config, ["data.synthetic.dir"], SOURCE)
    (tmp_path / "elsewhere" / "synthetic").mkdir(parents=True)
    check_data_confined(config, [], SOURCE)  # an existing set is only read
    config.data.synthetic.dir = str(Path(config.paths.data_dir) / "synthetic-4")
    check_data_confined(config, [], SOURCE)
    config.data.cache_dir = str(tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"data\.cache_dir"):
        check_data_confined(config, [], SOURCE)


def test_eval_of_a_record_rendering_its_data_elsewhere_is_refused(
    finished: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "synthetic"

    run = crafted(finished, tmp_path / "run", lambda config: None)
    checkpoint = torch.load(run.best_checkpoint, weights_only=True)
    checkpoint["drone_seg"]["data"]["root"] = None
    checkpoint["drone_seg"]["data"]["synthetic"] = {"dir": str(outside), "num_images": 8}
    torch.save(checkpoint, run.best_checkpoint)
    result = run_command(
        "drone_seg.eval", f"ckpt_path={run.best_checkpoint}", f"hydra.run.dir={tmp_path / 'e'}",
        expect_ok=False,
    )  # fmt: skip
    message = one_line_error(result)
    assert "data.synthetic.dir" in message and f"ckpt_path={run.best_checkpoint}" in message
    assert not outside.parent.exists()
    assert not (tmp_path / "e").exists()
