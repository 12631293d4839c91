"""Prediction: tiling and TTA bookkeeping, and `drone_seg.predict` end to end on a tiny model.

The model is trained once per session (two short epochs on the synthetic set) and shared with
test_export.py: the best checkpoint of the session's shared run (tests/conftest.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig
from PIL import Image

from drone_seg.bench.config import build_module
from drone_seg.classes import NUM_CLASSES
from drone_seg.config_checks import check_config
from drone_seg.data.io import read_image
from drone_seg.errors import ConfigError, DataError
from drone_seg.inference import rle
from drone_seg.inference.artifacts import LoadedModel, load_model
from drone_seg.inference.predictor import Predictor, Tiling, tile_starts
from drone_seg.predict import predict
from drone_seg.runs.run_dir import RunDir

from helpers.cli import run_command
from helpers.config import compose_config
from helpers.trained import agreement

FULL_HD = (720, 1280)  # height, width of AeroScapes frames


@pytest.fixture(scope="module")
def checkpoint(shared_run: RunDir) -> Path:
    """The best checkpoint of the session's shared run."""
    return shared_run.best_checkpoint


@pytest.fixture(scope="module")
def rich_images(synthetic_root: Path) -> list[tuple[str, np.ndarray]]:
    """(name, RGB image) of the 3 synthetic scenes (160x96) whose masks have the most classes."""
    masks = sorted((synthetic_root / "SegmentationClass").glob("*.png"))
    richest = sorted(masks, key=lambda path: -len(np.unique(read_mask(path))))[:3]
    return [
        (path.stem, read_image(synthetic_root / "JPEGImages" / f"{path.stem}.jpg"))
        for path in richest
    ]


@pytest.fixture(scope="module")
def full_hd_folder(tmp_path_factory: pytest.TempPathFactory, rich_images) -> Path:
    """The rich scenes upscaled to 1280x720, as a.jpg, b.jpg and sub/c.png."""
    folder = tmp_path_factory.mktemp("full_hd")
    for (_, image), name in zip(rich_images, ["a.jpg", "b.jpg", "sub/c.png"], strict=True):
        (folder / name).parent.mkdir(exist_ok=True)
        resized = cv2.resize(image, FULL_HD[::-1], interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(folder / name), resized[..., ::-1])
    return folder


@pytest.fixture
def predict_config(tmp_path: Path, checkpoint: Path) -> Callable[..., DictConfig]:
    """Compose predict.yaml with the tiny model and small whole-image size."""

    def make(*overrides: str) -> DictConfig:
        base = [f"ckpt_path={checkpoint}", "size=[96,160]", f"output={tmp_path / 'out'}"]
        return compose_config("predict", *base, *overrides, run_dir=tmp_path / "run")

    return make


def read_mask(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "L"
        return np.asarray(image)


def pixelwise_model(images: torch.Tensor) -> torch.Tensor:
    """A stand-in network whose class at each pixel is a function of that pixel's red value only,
    so any correct tiling, blending and flipping returns exactly that function of the image."""
    classes = (images[:, 0] // 22).long().clamp(max=NUM_CLASSES - 1)
    return torch.nn.functional.one_hot(classes, NUM_CLASSES).permute(0, 3, 1, 2).float() * 5


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 32, 10), (64, 32, 0), (20, 32, 8)])
def test_tiles_cover_the_whole_length_exactly(length: int, tile: int, overlap: int) -> None:
    starts = tile_starts(length, min(tile, length), overlap)
    covered = np.zeros(length, int)
    for start in starts:
        covered[start : start + min(tile, length)] += 1
    assert covered.min() >= 1 and starts[-1] + min(tile, length) == length
    assert all(b - a <= tile - overlap for a, b in pairwise(starts))


def test_tiles_flips_and_blending_reassemble_the_image_exactly() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (77, 101, 3), dtype=np.uint8)
    model = LoadedModel(pixelwise_model, torch.device("cpu"), None)
    predictor = Predictor(model, tiling=Tiling((32, 24), 10), hflip=True, batch_size=5)
    [(key, _, mask)] = predictor.predict([("x", image)])
    assert key == "x" and mask.shape == image.shape[:2]
    np.testing.assert_array_equal(mask, np.minimum(image[..., 0] // 22, NUM_CLASSES - 1))


def test_hflip_tta_predictions_mirror_with_the_image(checkpoint: Path, rich_images) -> None:
    _, image = rich_images[0]
    predictor = Predictor(
        load_model(checkpoint, "cpu"), size=(96, 160), hflip=True, scales=[0.75, 1]
    )
    [(_, _, mask), (_, _, mirrored)] = predictor.predict([(0, image), (1, image[:, ::-1])])
    assert agreement([mask], [mirrored[:, ::-1]]) > 0.999


def test_tiled_and_whole_image_predictions_agree(checkpoint: Path, rich_images) -> None:
    model = load_model(checkpoint, "cpu")
    whole = [mask for _, _, mask in Predictor(model, size=(96, 160)).predict(rich_images)]
    shares = np.bincount(np.concatenate(whole).ravel()) / sum(mask.size for mask in whole)
    assert shares.max() < 0.9, f"the model predicts one class almost everywhere: {shares}"
    # Both at the native (training) scale; tiles of full height, 3 across, overlapping by 2/3.
    tiled = Predictor(model, tiling=Tiling((96, 96), 64), batch_size=16)
    share = agreement(whole, [mask for _, _, mask in tiled.predict(rich_images)])
    print(f"tiled vs whole-image agreement: {share:.2%}")
    assert share >= 0.95


def test_folder_gives_three_full_size_files_per_image_and_a_submission(
    predict_config, full_hd_folder: Path
) -> None:
    cfg = predict_config(f"input={full_hd_folder}", "submission=csv", "batch_size=2")
    result = predict(cfg)
    output = Path(cfg.output)
    assert result.predicted == 3 and not result.skipped
    masks = {}
    for stem in ["a", "b", "sub/c"]:
        masks[stem] = read_mask(output / f"{stem}.png")
        assert masks[stem].shape == FULL_HD
        assert masks[stem].max() < NUM_CLASSES
        for suffix in ["_color.png", "_overlay.jpg"]:
            assert cv2.imread(str(output / f"{stem}{suffix}")).shape == (*FULL_HD, 3)
    with (output / "submission.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 3 * NUM_CLASSES
    for stem, mask in masks.items():
        decoded = np.full(FULL_HD, 255, np.uint8)
        for row in (r for r in rows if r["id"] == stem):
            pixels = rle.decode(row["rle"], FULL_HD)
            assert not (pixels & (decoded != 255)).any()
            decoded[pixels] = int(row["class"])
        np.testing.assert_array_equal(decoded, mask)


def test_unreadable_file_is_reported_and_skipped(predict_config, tmp_path, synthetic_root, caplog):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    image = next((synthetic_root / "JPEGImages").glob("*.jpg"))
    (folder / "good.jpg").write_bytes(image.read_bytes())
    result = predict(predict_config(f"input={folder}"))
    assert result.predicted == 1 and result.skipped == [folder / "broken.jpg"]
    assert any("broken.jpg" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    assert (Path(result.output) / "good.png").is_file()
    assert not (Path(result.output) / "broken.png").exists()


def test_video_gives_an_overlay_video(predict_config, tmp_path, synthetic_root) -> None:
    video = tmp_path / "flight.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 96))
    for path in sorted((synthetic_root / "JPEGImages").glob("*.jpg"))[:6]:
        writer.write(cv2.resize(cv2.imread(str(path)), (160, 96)))
    writer.release()
    result = predict(predict_config(f"input={video}"))
    capture = cv2.VideoCapture(str(Path(result.output) / "flight_overlay.mp4"))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    capture.release()
    assert result.predicted == 6 and len(frames) == 6
    assert frames[0].shape == (96, 160, 3)


def test_no_input_files_is_a_one_line_error(predict_config, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="input="):
        predict(predict_config(f"input={tmp_path / 'empty'}"))
    with pytest.raises(DataError, match="input="):
        predict(predict_config(f"input={tmp_path / 'nothing' / '*.jpg'}"))


def test_bad_tiling_is_a_config_error(predict_config, full_hd_folder: Path) -> None:
    cfg = predict_config(f"input={full_hd_folder}", "tile.enabled=true", "tile.overlap=512")
    with pytest.raises(ConfigError, match=r"tile\.overlap"):
        check_config(cfg, "predict")


def test_non_empty_output_is_refused_without_overwrite(predict_config, full_hd_folder) -> None:
    cfg = predict_config(f"input={full_hd_folder}")
    Path(cfg.output).mkdir()
    (Path(cfg.output) / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="overwrite=true") as refused:
        predict(cfg)
    assert str(refused.value).startswith(f"output folder {cfg.output} is not empty")
    assert sorted(path.name for path in Path(cfg.output).iterdir()) == ["keep.txt"]


def test_cli_predicts_a_glob_tiled_into_a_non_empty_folder_with_overwrite(
    checkpoint: Path, full_hd_folder: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    done = run_command(
        "drone_seg.predict", f"ckpt_path={checkpoint}", f"input={full_hd_folder}/**/*.png",
        f"output={output}", f"hydra.run.dir={tmp_path / 'run'}", "tile.enabled=true",
        "tile.scale=0.125", "tile.size=64", "tile.overlap=16", "overwrite=true",
    )  # fmt: skip
    assert f"Predicted 1 images/frames into {output}" in done.stdout
    assert (
        f"Predicted 1 images/frames into {output}" in (tmp_path / "run" / "predict.log").read_text()
    )
    assert sorted(p.relative_to(output).as_posix() for p in output.rglob("*")) == [
        "keep.txt", "sub", "sub/c.png", "sub/c_color.png", "sub/c_overlay.jpg",
    ]  # fmt: skip
    assert read_mask(output / "sub" / "c.png").shape == FULL_HD


def test_inference_drops_the_aux_head_and_keeps_the_logits() -> None:
    GlobalHydra.instance().clear()
    module = build_module("deeplabv3_mobilenet_v3_large").eval()
    images = torch.randint(0, 256, (1, 3, 64, 96)).float()
    with torch.no_grad():
        assert module._outputs(images).aux is not None
        expected = module(images)
        inference = module.for_inference()
        assert inference.net.aux_classifier is None
        assert inference.net(inference.normalization(images)).aux is None
        torch.testing.assert_close(inference(images), expected, rtol=0, atol=0)
