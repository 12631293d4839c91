"""The README's predict and fine-tuning command lines, run as written with tiny inputs, do what the
README says: tiling tiles, test-time augmentation averages its views, a run continues from a
checkpoint's weights (with the backbone frozen when asked)."""

from __future__ import annotations

import logging
import shlex
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from drone_seg.classes import NUM_CLASSES, PALETTE
from drone_seg.inference.artifacts import METADATA_KEY, load_model, metadata_json
from drone_seg.predict import build_predictor
from drone_seg.runs.run_dir import RunDir

from helpers.cli import REPO, run_command
from helpers.config import compose_config

README = (REPO / "README.md").read_text()
FRAMES = 4
# Tiles smaller than the 96x160 test images, in the README's 4:1 tile-to-overlap proportion.
TINY_TILES = {"tile.size": "[64,64]", "tile.overlap": "16"}


def readme_command(module: str, *needles: str) -> list[str]:
    """The overrides of the one README line running `python -m <module>` with every needle."""
    lines = [
        line.split("  #", 1)[0]
        for line in README.splitlines()
        if f"python -m {module} " in line and all(needle in line for needle in needles)
    ]
    assert len(lines) == 1, f"README lines of {module} with {needles}: {lines}"
    words = shlex.split(lines[0])
    return words[words.index(module) + 1 :]


def filled(overrides: list[str], run: Path, **values: str) -> list[str]:
    """`overrides` with `<run>` and `<ckpt>` naming `run` and its best.ckpt, and the values of the
    keys in `values` replaced (inputs, outputs, sizes)."""
    keys = [override.split("=", 1)[0] for override in overrides]
    assert set(values) <= set(keys), f"the README command no longer sets {set(values) - set(keys)}"
    return [
        f"{key}={values[key]}"
        if key in values
        else item.replace("<run>", str(run)).replace("<ckpt>", str(run / "checkpoints/best.ckpt"))
        for key, item in zip(keys, overrides, strict=True)
    ]


def printed(result) -> str:
    return result.stdout + result.stderr


def read_masks(folder: Path) -> list[np.ndarray]:
    paths = sorted(path for path in folder.glob("*.png") if not path.stem.endswith("_color"))
    masks = [cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for path in paths]
    assert len(masks) == FRAMES
    return masks


@pytest.fixture(scope="module")
def checkpoint(shared_run: RunDir) -> Path:
    """The best checkpoint of the session's shared run."""
    return shared_run.best_checkpoint


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    """A folder of a few 96x160 drone images (the README's `frames/` and `footage/`)."""
    folder = tmp_path_factory.mktemp("frames")
    for path in sorted((synthetic_root / "JPEGImages").glob("*.jpg"))[:FRAMES]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


class WidthProbe(nn.Module):
    """A model whose every pixel's class is the width of its input over 16: it tells from a mask
    how wide the pieces it was shown were (64-pixel tiles: class 4; a 160-pixel image: 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.classes = NUM_CLASSES

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = images.shape
        logits = torch.zeros(batch, self.classes, height, width)
        logits[:, min(width // 16, self.classes - 1)] = 1.0
        return logits


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`WidthProbe` as a TorchScript file for `ckpt_path=`, sized for the 96x160 images."""
    path = tmp_path_factory.mktemp("probe") / "probe.pt"
    metadata = metadata_json((96, 160), PALETTE)
    with warnings.catch_warnings():  # TorchScript is deprecated; predict still reads it
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(WidthProbe())
        torch.jit.save(scripted, str(path), _extra_files={METADATA_KEY: metadata})
    return path


def test_the_tiling_example_predicts_on_tiles(probe: Path, frames: Path, tmp_path: Path) -> None:
    overrides = readme_command("drone_seg.predict", "tile.")
    result = run_command(
        "drone_seg.predict",
        *filled(
            overrides,
            tmp_path,
            ckpt_path=str(probe),
            input=f"{frames}/*.jpg",
            output=str(tmp_path / "out"),
            **TINY_TILES,
        ),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    log = printed(result)
    assert "Predicting on 64x64 tiles (height x width) overlapping by 16 pixels" in log
    assert "whole images" not in log and "WARNING" not in log
    masks = read_masks(tmp_path / "out")
    assert all(mask.shape == (96, 160) for mask in masks)
    assert all((mask == 64 // 16).all() for mask in masks)  # seen as 64-pixel-wide tiles


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_tile_keys_without_tile_enabled_warn_that_they_do_nothing(
    probe: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tiles = [f"{key}={value}" for key, value in TINY_TILES.items()]
    cfg = compose_config("predict", f"ckpt_path={probe}", "input=x.jpg", *tiles, run_dir=tmp_path)
    with caplog.at_level(logging.INFO, logger="drone_seg.predict"):
        predictor = build_predictor(cfg, load_model(probe, "cpu"))
    assert predictor.tiling is None
    messages = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert messages == [
        ("WARNING", "tile.size, tile.overlap set but tile.enabled=false: add tile.enabled=true "
         "to predict on tiles"),
        ("INFO", "Predicting whole images resized to 96x160 (height x width)"),
    ]  # fmt: skip


def test_the_tta_example_averages_six_views_of_every_video_frame(
    checkpoint: Path, frames: Path, tmp_path: Path
) -> None:
    video = tmp_path / "flight.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 96))
    for path in sorted(frames.glob("*.jpg")):
        writer.write(cv2.imread(str(path)))
    writer.release()
    overrides = readme_command("drone_seg.predict", "tta.")
    result = run_command(
        "drone_seg.predict",
        *filled(overrides, checkpoint.parents[1], input=str(video), output=str(tmp_path / "o")),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    log = printed(result)
    assert (
        "Test-time augmentation: 6 views per image (tta.hflip=True, tta.scales=[0.75, 1.0, 1.25])"
        in log
    )
    assert f"Predicted {FRAMES} images/frames" in log
    capture = cv2.VideoCapture(str(tmp_path / "o" / "flight_overlay.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == FRAMES


def test_fine_tuning_continues_from_the_checkpoint_with_the_backbone_frozen(
    checkpoint: Path, tmp_path: Path
) -> None:
    """The README's resume line, into another folder (`hydra.run.dir=DIR`) for one more epoch
    (`trainer.max_epochs`) with `callbacks.freeze_backbone.epochs=K`, all three as it names them."""
    assert "`callbacks.freeze_backbone.epochs=K`" in README and "`hydra.run.dir=DIR`" in README
    last = checkpoint.with_name("last.ckpt")
    overrides = readme_command("drone_seg.train", "ckpt_path=", "# resume")
    before = torch.load(last, map_location="cpu", weights_only=True)
    run_command(
        "drone_seg.train",
        *filled(overrides, checkpoint.parents[1], ckpt_path=str(last)),
        f"trainer.max_epochs={before['epoch'] + 2}",
        f"callbacks.freeze_backbone.epochs={before['epoch'] + 2}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    after = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert after["epoch"] == before["epoch"] + 1
    steps_per_epoch = before["global_step"] // (before["epoch"] + 1)
    assert after["global_step"] == before["global_step"] + steps_per_epoch
    old, new = before["state_dict"], after["state_dict"]
    backbone = [key for key in old if key.startswith("net.backbone.")]
    head = [key for key in old if key.startswith("net.") and key not in backbone]
    assert backbone and head
    # Weights and BatchNorm statistics of the frozen backbone are the checkpoint's, exactly.
    assert all(torch.equal(old[key], new[key]) for key in backbone)
    assert any(not torch.equal(old[key], new[key]) for key in head)
