"""The run contract: self-describing checkpoints, strict metrics, unique run folders, and opening
a checkpoint or run folder received from someone else runs no code, in any command."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from drone_seg.allowlist import is_allowed
from drone_seg.errors import ConfigError
from drone_seg.runs.checkpoint import read_checkpoint
from drone_seg.runs.run_dir import RunDir, read_metrics, write_metrics

from helpers.cli import one_line_error, run_command
from helpers.config import compose_config


class Payload:
    """Unpickling this object creates `marker`: what a crafted checkpoint could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.fixture(scope="module")
def trained(shared_run: RunDir) -> RunDir:
    """The session's shared run: checkpoints to copy and craft, never to change."""
    return shared_run


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.full((48, 64, 3), 90, dtype=np.uint8)).save(folder / "a.png")
    return folder


def crafted(trained: RunDir, path: Path, change) -> Path:
    """A copy of the run's best checkpoint with `change(checkpoint)` applied."""
    checkpoint = torch.load(trained.best_checkpoint, weights_only=True)
    change(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


def exec_target(marker: Path) -> dict:
    return {"_target_": "builtins.exec", "_args_": [f"open({str(marker)!r}, 'w').close()"]}


COMMANDS = {
    "predict": lambda ckpt, tmp, images: (
        "drone_seg.predict", f"ckpt_path={ckpt}", f"input={images}", f"output={tmp / 'out'}",
        f"hydra.run.dir={tmp / 'predict'}", "device=cpu",
    ),
    "eval": lambda ckpt, tmp, images: (
        "drone_seg.eval", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp / 'eval'}",
        "trainer.accelerator=cpu",
    ),
    "export": lambda ckpt, tmp, images: (
        "drone_seg.export", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp / 'export'}",
        "format=torchscript",
    ),
    "resume": lambda ckpt, tmp, images: ("drone_seg.train", f"ckpt_path={ckpt}"),
}  # fmt: skip


@pytest.mark.parametrize("name", COMMANDS)
def test_a_pickle_payload_is_refused_by_every_command(
    name: str, trained: RunDir, tmp_path: Path, images: Path
) -> None:
    marker = tmp_path / "payload-ran"
    checkpoint = crafted(
        trained,
        tmp_path / "run" / "checkpoints" / "last.ckpt",
        lambda c: c.update(x=Payload(marker)),
    )
    torch.load(checkpoint, weights_only=False)  # the payload is real: unpickling runs it
    assert marker.exists()
    marker.unlink()
    result = run_command(*COMMANDS[name](checkpoint, tmp_path, images), expect_ok=False)
    message = one_line_error(result)
    assert f"ckpt_path={checkpoint} refused" in message and "pickled" in message
    assert not marker.exists()


def test_a_loss_target_outside_the_allowlist_is_refused_by_eval_and_never_built_for_inference(
    trained: RunDir, tmp_path: Path, images: Path
) -> None:
    marker = tmp_path / "payload-ran"
    checkpoint = crafted(
        trained,
        tmp_path / "evil" / "best.ckpt",
        lambda c: c["hyper_parameters"].update(loss=exec_target(marker)),
    )
    message = one_line_error(
        run_command(*COMMANDS["eval"](checkpoint, tmp_path, images), expect_ok=False)
    )
    assert "'builtins.exec'" in message and "refusing" in message
    assert f"ckpt_path={checkpoint}" in message
    run_command(*COMMANDS["predict"](checkpoint, tmp_path, images))
    assert (tmp_path / "out" / "a.png").is_file()
    run_command(*COMMANDS["export"](checkpoint, tmp_path, images))
    assert (tmp_path / "export" / "model.pt").is_file()
    assert not marker.exists()


def test_targets_in_a_checkpoints_config_or_augment_are_checked_before_use(
    trained: RunDir, tmp_path: Path, images: Path
) -> None:
    marker = tmp_path / "payload-ran"

    def evil_callback(checkpoint: dict) -> None:
        checkpoint["drone_seg"]["config"]["callbacks"]["evil"] = exec_target(marker)

    resumed = crafted(trained, tmp_path / "a" / "checkpoints" / "last.ckpt", evil_callback)
    message = one_line_error(
        run_command(*COMMANDS["resume"](resumed, tmp_path, images), expect_ok=False)
    )
    assert f"ckpt_path={resumed}" in message and "'builtins.exec'" in message

    def evil_augment(checkpoint: dict) -> None:
        checkpoint["drone_seg"]["augment"]["val"] = exec_target(marker)

    evaluated = crafted(trained, tmp_path / "b" / "best.ckpt", evil_augment)
    message = one_line_error(
        run_command(*COMMANDS["eval"](evaluated, tmp_path, images), expect_ok=False)
    )
    assert f"ckpt_path={evaluated}" in message and "'builtins.exec'" in message
    assert not marker.exists()


@pytest.mark.slow  # test_user_defaults proves it on the default run (a received run folder)
def test_a_crafted_run_config_beside_a_checkpoint_is_never_read(
    trained: RunDir, tmp_path: Path, images: Path
) -> None:
    """eval and predict read everything from the checkpoint, not from `<run>/.hydra/config.yaml`."""
    marker = tmp_path / "payload-ran"
    run = RunDir(tmp_path / "received")
    shutil.copytree(trained.path, run.path)
    run.config.write_text(
        f"data:\n  _target_: builtins.exec\n  _args_: [\"open({str(marker)!r}, 'w').close()\"]\n"
    )
    run_command(*COMMANDS["eval"](run.best_checkpoint, tmp_path, images))
    expected = trained.read_metrics()["val/dice"]
    assert read_metrics(tmp_path / "eval" / "metrics.json")["val/dice"] == pytest.approx(
        expected, abs=1e-6
    )
    run_command(*COMMANDS["predict"](run.best_checkpoint, tmp_path, images))
    assert not marker.exists()


def test_unreadable_checkpoints_are_one_line_naming_the_file(trained: RunDir, tmp_path) -> None:
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(trained.best_checkpoint.read_bytes()[:100_000])
    with pytest.raises(ConfigError, match=f"ckpt_path={truncated} is not a readable checkpoint"):
        read_checkpoint(truncated)
    plain = tmp_path / "plain.ckpt"
    torch.save(torch.load(trained.best_checkpoint, weights_only=True)["state_dict"], plain)
    with pytest.raises(ConfigError, match=f"ckpt_path={plain} is not a checkpoint written by"):
        read_checkpoint(plain)
    with pytest.raises(ConfigError, match="not found"):
        read_checkpoint(tmp_path / "missing.ckpt")
    message = one_line_error(
        run_command(
            "drone_seg.export",
            f"ckpt_path={truncated}",
            f"hydra.run.dir={tmp_path / 'e'}",
            expect_ok=False,
        )
    )
    assert str(truncated) in message


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("drone_seg.models.losses.FocalDiceLoss", True),
        ("torch.nn.CrossEntropyLoss", True),
        ("torch.optim.SGD", True),
        ("torch.optim.lr_scheduler.OneCycleLR", True),
        ("drone_seg.models.schedule.OneCycleLR", True),
        ("lightning.pytorch.profilers.SimpleProfiler", True),
        ("albumentations.Resize", True),
        ("lightning.pytorch.callbacks.ModelCheckpoint", True),
        ("builtins.exec", False),
        ("os.system", False),
        ("torch.load", False),
        ("torch.hub.load", False),
        ("torch.nn.Conv2d", False),
        ("pathlib.Path", False),
        ("albumentations.core.serialization.load", False),
    ],
)
def test_the_allowlist_admits_known_classes_only(target: str, allowed: bool) -> None:
    assert is_allowed(target) is allowed


@pytest.mark.slow  # test_user_defaults proves it on the default run (a received run folder)
def test_a_copied_best_checkpoint_predicts_the_pixels_it_predicts_in_its_run(
    trained: RunDir, tmp_path: Path, images: Path
) -> None:
    """The validation size (the whole-image resize) travels inside the checkpoint."""
    copied = tmp_path / "elsewhere" / "model.ckpt"
    copied.parent.mkdir()
    shutil.copy(trained.best_checkpoint, copied)
    for name, checkpoint in (("run", trained.best_checkpoint), ("copy", copied)):
        run_command(
            "drone_seg.predict", f"ckpt_path={checkpoint}", f"input={images}",
            f"output={tmp_path / name}", f"hydra.run.dir={tmp_path / f'log-{name}'}", "device=cpu",
        )  # fmt: skip
    masks = [np.asarray(Image.open(tmp_path / name / "a.png")) for name in ("run", "copy")]
    assert masks[0].shape == (48, 64)
    np.testing.assert_array_equal(masks[0], masks[1])
    log = (tmp_path / "log-copy" / "predict.log").read_text()
    assert "resized to 96x160" in log  # the run's augment.val_size, not predict's default_size


def test_metrics_files_are_strict_json_with_null_for_undefined_scores(
    trained: RunDir, tmp_path
) -> None:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    json.loads(trained.metrics.read_text(), parse_constant=refuse)
    path = tmp_path / "metrics.json"
    write_metrics(path, {"val/dice": 0.5, "val/dice_boat": math.nan, "epoch": 3})
    assert json.loads(path.read_text(), parse_constant=refuse)["val/dice_boat"] is None
    back = read_metrics(path)
    assert back["val/dice"] == 0.5 and back["epoch"] == 3 and math.isnan(back["val/dice_boat"])
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def compose_run_dir(config_name: str, *overrides: str) -> str:
    return str(compose_config(config_name, *overrides).hydra.run.dir)


def test_default_run_folders_are_unique_per_process_and_resuming_reuses_the_run(tmp_path) -> None:
    first, second = compose_run_dir("train"), compose_run_dir("train")
    assert first != second  # microseconds apart
    assert first.endswith(f"_{os.getpid()}") and second.endswith(f"_{os.getpid()}")
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert compose_run_dir("train", f"ckpt_path={checkpoint}") == str((tmp_path / "run").resolve())
    assert compose_run_dir("train", f"ckpt_path={tmp_path / 'loose.ckpt'}").endswith(
        f"_{os.getpid()}"
    )
    assert "/eval/runs/" in compose_run_dir("eval", f"ckpt_path={checkpoint}")
