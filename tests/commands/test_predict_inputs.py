"""`drone_seg.predict` never harms its inputs: outputs that would replace an input or be read back
next run are refused before anything is written, undecodable images are skipped, and a run that
predicts nothing fails. A tiny TorchScript network stands in for a trained model (no training)."""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from omegaconf import DictConfig

import drone_seg.predict as predict_module
from drone_seg.classes import NUM_CLASSES
from drone_seg.errors import ConfigError
from drone_seg.predict import predict

from helpers.cli import run_command
from helpers.config import compose_config


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TorchScript 1x1 convolution from RGB to class logits: loads as `predict` loads exports."""
    torch.manual_seed(0)
    network = torch.nn.Conv2d(3, NUM_CLASSES, 1).eval()
    path = tmp_path_factory.mktemp("model") / "model.pt"
    torch.jit.trace(network, torch.rand(1, 3, 8, 8) * 255).save(str(path))
    return path


@pytest.fixture
def predict_config(tmp_path: Path, tiny_model: Path) -> Callable[..., DictConfig]:
    """Compose predict.yaml as its command line would, with the tiny model and 32x48 images."""

    def make(*overrides: str) -> DictConfig:
        return compose_config(
            "predict", f"ckpt_path={tiny_model}", "size=[32,48]", *overrides,
            run_dir=tmp_path / "run",
        )  # fmt: skip

    return make


def write_images(folder: Path, *names: str) -> dict[str, bytes]:
    """Small random images at `names` under `folder`; returns each file's bytes."""
    rng = np.random.default_rng(0)
    written = {}
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
        written[name] = (folder / name).read_bytes()
    return written


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims width x height RGB pixels (beyond OpenCV's pixel limit)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * (1 + 3 * 16))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def run_cli(tiny_model: Path, tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    return run_command(
        "drone_seg.predict", f"ckpt_path={tiny_model}", "size=[32,48]",
        f"hydra.run.dir={tmp_path / 'run'}", *overrides, expect_ok=False,
    )  # fmt: skip


def test_output_equal_to_input_is_refused_and_the_photo_kept(tiny_model, tmp_path) -> None:
    folder = tmp_path / "photos"
    before = write_images(folder, "photo.png", "other.jpg")
    done = run_cli(tiny_model, tmp_path, f"input={folder}", f"output={folder}", "overwrite=true")
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and f"overwrite the input {folder / 'photo.png'}" in line
    assert files_under(folder) == before
    assert not (tmp_path / "run").exists()  # refused at start-up: no run folder, no empty log


def test_outputs_that_would_be_read_back_are_refused(predict_config, tmp_path) -> None:
    folder = tmp_path / "photos"
    before = write_images(folder, "a.jpg", "sub/b.jpg")
    for pattern in [str(folder), f"{folder}/**/*.jpg"]:
        cfg = predict_config(f"input={pattern}", f"output={folder}", "overwrite=true")
        with pytest.raises(ConfigError, match="inside the input folder") as refused:
            predict(cfg)
        assert "\n" not in str(refused.value) and "predictions" in str(refused.value)
    assert files_under(folder) == before


def test_output_folder_inside_the_input_is_not_read_back(predict_config, tmp_path) -> None:
    folder = tmp_path / "photos"
    before = write_images(folder, "a.jpg", "sub/b.png")
    output = folder / "pred"
    for _ in range(2):
        result = predict(predict_config(f"input={folder}", f"output={output}", "overwrite=true"))
        assert result.predicted == 2 and not result.skipped
    assert sorted(files_under(output)) == [
        "a.png", "a_color.png", "a_overlay.jpg", "sub/b.png", "sub/b_color.png",
        "sub/b_overlay.jpg",
    ]  # fmt: skip
    assert {name: data for name, data in files_under(folder).items() if name in before} == before


def test_an_output_that_is_an_input_under_another_name_is_refused(predict_config, tmp_path):
    photos, output = tmp_path / "photos", tmp_path / "out"
    before = write_images(photos, "a.jpg")
    output.mkdir()
    os.link(photos / "a.jpg", output / "a.png")  # a hard link: another name for the same file
    with pytest.raises(ConfigError, match="would overwrite the input"):
        predict(predict_config(f"input={photos}", f"output={output}", "overwrite=true"))
    (tmp_path / "link").symlink_to(photos)  # a symlinked output folder that is the input folder
    write_images(photos, "b.png")
    with pytest.raises(ConfigError, match=r"would overwrite the input .*b\.png"):
        predict(predict_config(f"input={photos}", f"output={tmp_path / 'link'}", "overwrite=true"))
    assert files_under(photos)["a.jpg"] == before["a.jpg"]


def test_two_inputs_writing_one_file_are_refused(predict_config, tmp_path) -> None:
    photos = tmp_path / "photos"
    write_images(photos, "a.jpg", "a_color.png")
    with pytest.raises(ConfigError, match=r"would both write .*a_color\.png"):
        predict(predict_config(f"input={photos}", f"output={tmp_path / 'out'}"))
    assert not (tmp_path / "out").exists()


def test_undecodable_images_are_skipped_and_the_others_predicted(
    predict_config, tmp_path, monkeypatch, caplog
) -> None:
    photos = tmp_path / "photos"
    write_images(photos, "a.jpg", "c.jpg", "d.png")
    (photos / "b_huge.png").write_bytes(huge_png())
    (photos / "e_empty.jpg").write_bytes(b"")
    read_image = predict_module.read_image

    def read_or_fail(path: Path) -> np.ndarray:
        if path.name == "d.png":  # a decoder error read_image did not turn into a DataError
            raise cv2.error("OpenCV(4.x) loadsave.cpp:1: error: (-215) decoder failed\n")
        return read_image(path)

    monkeypatch.setattr(predict_module, "read_image", read_or_fail)
    result = predict(predict_config(f"input={photos}", f"output={tmp_path / 'out'}"))
    assert result.predicted == 2
    assert sorted(path.name for path in result.skipped) == ["b_huge.png", "d.png", "e_empty.jpg"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for name in ["b_huge.png", "d.png", "e_empty.jpg"]:
        assert any(name in message and "\n" not in message for message in warnings), warnings
    assert sorted(files_under(tmp_path / "out")) == [
        "a.png", "a_color.png", "a_overlay.jpg", "c.png", "c_color.png", "c_overlay.jpg",
    ]  # fmt: skip


def test_predicting_nothing_is_an_error_after_naming_the_skipped(tiny_model, tmp_path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "huge.png").write_bytes(huge_png())
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    output = tmp_path / "out"
    done = run_cli(tiny_model, tmp_path, f"input={photos}", f"output={output}", "submission=csv")
    assert done.returncode != 0
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and "predicted nothing" in error_lines[0]
    assert "huge.png" in error_lines[0] and "broken.jpg" in error_lines[0]
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if "skipped:" in line]
    assert len(warnings) == 2 and "huge.png" in "".join(warnings), done.stdout + done.stderr
    assert not files_under(output)  # not even an empty submission.csv
    log = (tmp_path / "run" / "predict.log").read_text()  # it ran, then failed: the log says so
    assert "huge.png" in log and f"[ERROR] - {error_lines[0]}" in log
