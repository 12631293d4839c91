"""One orientation policy: pixels as stored, the EXIF orientation tag ignored, for images and masks,
when checking sizes and when reading; files that carry a tag are named in one warning."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from drone_seg.data.datamodule import DroneDataModule
from drone_seg.data.io import exif_orientation, read_image, read_mask

from helpers.datasets import frame_ids, image_for, save_mask, scene_masks, write_dataset
from helpers.shipped import data_options

IDS = frame_ids(4, 5)


def datamodule_of(root: Path, tmp_path: Path) -> DroneDataModule:
    """The shipped data config on `root`, its cache in `tmp_path`, no workers."""
    return DroneDataModule(**data_options(root, cache_dir=str(tmp_path / "cache"), num_workers=0))


def save_tagged_jpeg(path: Path, pixels: np.ndarray, orientation: int) -> None:
    """Write `pixels` as a JPEG whose EXIF says to show it with `orientation` (3: 180 degrees,
    6: 90 degrees clockwise), as drone and phone cameras do."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=95, exif=exif)


def top_bright(height: int = 48, width: int = 64) -> np.ndarray:
    """An RGB image, bright in its top quarter and dark elsewhere: any rotation shows."""
    pixels = np.full((height, width, 3), 20, np.uint8)
    pixels[: height // 4] = 235
    return pixels


@pytest.mark.parametrize("orientation", [3, 6])
def test_images_are_read_as_stored(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.jpg"
    save_tagged_jpeg(path, top_bright(), orientation)
    assert exif_orientation(path) == orientation
    rotated = cv2.imread(str(path))  # OpenCV's default applies the tag
    assert rotated.shape != (48, 64, 3) or rotated[:12].mean() < 50
    image = read_image(path)
    assert image.shape == (48, 64, 3)
    assert image[:12].mean() > 200 and image[12:].mean() < 50
    assert np.abs(image.astype(int) - top_bright()).max() < 12  # JPEG loss only


def test_masks_are_read_as_stored(tmp_path: Path) -> None:
    mask = np.zeros((48, 64), np.uint8)
    mask[:12] = 9
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "mask.png"
    Image.fromarray(mask, mode="L").save(path, exif=exif)
    assert exif_orientation(path) == 6
    assert np.array_equal(read_mask(path), mask)


@pytest.fixture
def tagged_root(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A 20-image dataset whose first three images carry orientation 6, 3 and 6."""
    masks = scene_masks(4, 5, 48, 64, seed=7)
    root = write_dataset(tmp_path / "data", masks, IDS)
    tagged = []
    for n, orientation in zip((0, 6, 13), (6, 3, 6), strict=True):
        path = root / "JPEGImages" / f"{IDS[n]}.jpg"
        save_tagged_jpeg(path, image_for(masks[n]), orientation)
        tagged.append(path)
    return root, tagged


def test_tagged_images_pass_the_size_checks_train_aligned_and_warn_once(
    tagged_root: tuple[Path, list[Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, tagged = tagged_root
    with caplog.at_level(logging.WARNING):
        datamodule = DroneDataModule(
            **data_options(root, cache_dir=str(tmp_path / "cache"), num_workers=0)
        )
        datamodule.setup("fit")
    warnings = [r.getMessage() for r in caplog.records if "EXIF orientation" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("3 files carry an EXIF orientation tag")
    assert all(str(path) in warnings[0] for path in tagged)
    datasets = {"train": datamodule.train_set, "val": datamodule.val_set}
    for path in tagged:
        image_id = path.stem
        part = "train" if image_id in datamodule.train_ids else "val"
        dataset = datasets[part]
        sample = dataset[dataset.ids.index(image_id)]
        mask = sample["mask"].numpy()
        image = sample["image"].numpy().transpose(1, 2, 0)
        assert image.shape[:2] == mask.shape == (48, 64)
        assert np.abs(image.astype(int) - image_for(mask)).mean() < 4  # aligned, not rotated


def test_the_warning_comes_again_from_the_cache_and_counts_past_three(
    tagged_root: tuple[Path, list[Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tagged_root[0]
    mask_path = root / "SegmentationClass" / f"{IDS[2]}.png"
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.open(mask_path).save(mask_path, exif=exif)
    for _ in range(2):  # the second setup reads the statistics cache
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            DroneDataModule(
                **data_options(root, cache_dir=str(tmp_path / "cache"), num_workers=0)
            ).setup()
        warnings = [r.getMessage() for r in caplog.records if "EXIF orientation" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].startswith("4 files carry")
        assert warnings[0].count(str(root)) == 3 and "and 1 more" in warnings[0]


def test_untagged_data_gives_no_orientation_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_dataset(tmp_path / "data", scene_masks(4, 5, 24, 32, seed=1), IDS)
    save_mask(root / "SegmentationClass" / f"{IDS[0]}.png", scene_masks(1, 1, 24, 32, seed=1)[0])
    with caplog.at_level(logging.WARNING):
        DroneDataModule(
            **data_options(root, cache_dir=str(tmp_path / "cache"), num_workers=0)
        ).setup()
    assert "EXIF orientation" not in caplog.text
