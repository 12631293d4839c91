"""Every image and mask is decoded completely before training: a truncated or corrupt file, or
one OpenCV refuses, stops the run at start-up with one line naming it; later reads name it too."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from drone_seg.data.dataset import SampleError, SegmentationDataset
from drone_seg.data.io import EncodedImage, jpeg_is_complete, read_encoded, read_image, read_mask
from drone_seg.data.layout import find_samples
from drone_seg.data.source import DataSource
from drone_seg.errors import DataError

from helpers.cli import REPO, run_command
from helpers.datasets import frame_ids, image_for, scene_masks, write_dataset
from helpers.shipped import data_source

IDS = frame_ids(3, 4)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A valid 12-image dataset (3 sequences of 4), AeroScapes layout, JPEG images."""
    return write_dataset(tmp_path / "data", scene_masks(3, 4, 48, 64, seed=2), IDS)


def scan(root: Path, tmp_path: Path, **folders: str) -> DataSource:
    source = data_source(root, cache_dir=str(tmp_path / "cache"), **folders)
    source.scan()
    return source


def truncate(path: Path, fraction: float) -> None:
    """Cut the file to `fraction` of its bytes, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def fully_decodes_with_pil(path: Path) -> bool:
    """PIL's own verdict (LOAD_TRUNCATED_IMAGES is False): is every pixel there?"""
    try:
        with Image.open(path) as image:
            image.load()
    except OSError:
        return False
    return True


def photo(path: Path, progressive: bool = False) -> None:
    """A 96x128 JPEG with detail in every block (so that a cut loses real data)."""
    rng = np.random.default_rng(0)
    pixels = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90, progressive=progressive)


def png_claiming(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims `width` x `height` pixels, with a tiny body."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_jpeg_is_refused_naming_it(
    tmp_path: Path, fraction: float, progressive: bool
) -> None:
    path = tmp_path / "cut.jpg"
    photo(path, progressive)
    whole = read_image(path)
    assert whole.shape == (96, 128, 3) and jpeg_is_complete(path.read_bytes())
    truncate(path, fraction)
    assert not fully_decodes_with_pil(path)  # the file really is truncated
    with pytest.raises(DataError, match="truncated") as caught:
        read_image(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_jpeg_with_bytes_after_its_end_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "trailing.jpg"
    photo(path)
    expected = read_image(path)
    path.write_bytes(path.read_bytes() + b"\x00camera maker notes\xff\xd8")
    assert np.array_equal(read_image(path), expected)


def test_a_truncated_jpeg_image_stops_the_scan(root: Path, tmp_path: Path) -> None:
    path = root / "JPEGImages" / f"{IDS[5]}.jpg"
    truncate(path, 0.6)
    assert not fully_decodes_with_pil(path)
    with pytest.raises(DataError, match="truncated") as caught:
        scan(root, tmp_path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("kind", ["image", "mask"])
def test_a_truncated_png_stops_the_scan(root: Path, tmp_path: Path, kind: str) -> None:
    if kind == "image":
        path = root / "JPEGImages" / f"{IDS[3]}.png"
        (root / "JPEGImages" / f"{IDS[3]}.jpg").unlink()
        Image.fromarray(image_for(read_mask(root / "SegmentationClass" / f"{IDS[3]}.png"))).save(
            path
        )
    else:
        path = root / "SegmentationClass" / f"{IDS[3]}.png"
    truncate(path, 0.7)
    assert not fully_decodes_with_pil(path)
    with pytest.raises(DataError, match=f"cannot read {kind}") as caught:
        scan(root, tmp_path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_truncated_jpeg_mask_stops_the_scan(root: Path, tmp_path: Path) -> None:
    png = root / "SegmentationClass" / f"{IDS[1]}.png"
    path = png.with_suffix(".jpg")
    Image.open(png).save(path, quality=100)
    png.unlink()
    truncate(path, 0.5)
    with pytest.raises(DataError, match="cannot read mask") as caught:
        scan(root, tmp_path)
    assert str(path) in str(caught.value)


def test_an_image_over_opencvs_pixel_limit_is_a_data_error(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    png_claiming(path, 100_000, 100_000)
    with pytest.raises(DataError, match="OpenCV refuses it") as caught:
        read_image(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    image = root / "JPEGImages" / f"{IDS[0]}.jpg"
    image.unlink()
    png_claiming(image.with_suffix(".png"), 100_000, 100_000)
    with pytest.raises(DataError, match="OpenCV refuses it"):
        scan(root, tmp_path)


def test_a_mask_over_pils_pixel_limit_is_a_data_error(root: Path, tmp_path: Path) -> None:
    path = root / "SegmentationClass" / f"{IDS[2]}.png"
    png_claiming(path, 100_000, 100_000)
    with pytest.raises(DataError, match="cannot read mask") as caught:
        scan(root, tmp_path)
    assert str(path) in str(caught.value)


def test_a_file_truncated_after_a_cached_scan_is_caught_on_the_next_one(
    root: Path, tmp_path: Path
) -> None:
    scan(root, tmp_path)
    path = root / "JPEGImages" / f"{IDS[7]}.jpg"
    truncate(path, 0.5)
    with pytest.raises(DataError, match="truncated") as caught:
        scan(root, tmp_path)
    assert str(path) in str(caught.value)


def test_a_file_broken_after_the_scan_is_named_when_the_dataset_reads_it(
    root: Path, tmp_path: Path
) -> None:
    samples = find_samples(root, "JPEGImages", "SegmentationClass")
    dataset = SegmentationDataset(root, samples)
    assert dataset[4]["image"].shape == (3, 48, 64)
    samples.image_paths[4].write_bytes(b"\xff\xd8 no longer a picture")
    with pytest.raises(DataError, match="cannot read image") as caught:
        dataset[4]
    assert str(samples.image_paths[4]) in str(caught.value)
    truncate(samples.mask_paths[6], 0.5)
    with pytest.raises(DataError, match="cannot read mask") as caught:
        dataset[6]
    assert str(samples.mask_paths[6]) in str(caught.value)


def test_train_stops_before_the_first_step_naming_a_truncated_jpeg(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path / "data",
        scene_masks(3, 4, 48, 64, seed=5),
        IDS,
        images_dir="images",
        masks_dir="masks",
    )
    bad = root / "images" / f"{IDS[9]}.jpg"
    truncate(bad, 0.5)
    command = [
        "drone_seg.train", "data=folders", f"data.root={root}",
        "data.images_dir=images", "data.masks_dir=masks", "trainer.max_epochs=1",
        "data.num_workers=0", "augment.crop_size=[64,64]", "augment.val_size=[64,64]",
        f"hydra.run.dir={tmp_path / 'run'}", f"data.cache_dir={tmp_path / 'cache'}",
        f"paths.root_dir={tmp_path}",
    ]  # fmt: skip
    result = run_command(*command, cwd=REPO, expect_ok=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(bad) in last, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Premature end" not in result.stderr
    assert not list((tmp_path / "run").rglob("*.ckpt"))


def test_a_worker_that_cannot_read_a_file_reports_one_line_naming_it(
    root: Path, tmp_path: Path
) -> None:
    samples = find_samples(root, "JPEGImages", "SegmentationClass")
    loader = DataLoader(SegmentationDataset(root, samples), batch_size=4, num_workers=1)
    truncate(samples.image_paths[2], 0.5)
    with pytest.raises(DataError) as caught:
        next(iter(loader))
    assert isinstance(caught.value, SampleError)
    expected = f"cannot read image {samples.image_paths[2]}: the JPEG is truncated"
    assert str(caught.value) == f"{expected}; replace it or remove it"


def test_a_grey_jpeg_is_read_as_rgb_and_a_cmyk_one_by_opencv(tmp_path: Path) -> None:
    """simplejpeg converts grey JPEGs itself; CMYK ones, which it refuses, go to OpenCV."""
    rng = np.random.default_rng(1)
    pixels = cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (9, 9), 3)
    Image.fromarray(pixels).convert("L").save(tmp_path / "grey.jpg", quality=95)
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert isinstance(read_encoded(tmp_path / "grey.jpg"), EncodedImage)
    grey = read_image(tmp_path / "grey.jpg")
    assert grey.shape == (96, 128, 3) and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 2])
    with Image.open(tmp_path / "grey.jpg") as image:
        assert np.abs(grey[..., 0].astype(int) - np.asarray(image)).max() <= 1
    assert isinstance(read_encoded(tmp_path / "cmyk.jpg"), np.ndarray)
    cmyk = read_image(tmp_path / "cmyk.jpg")
    assert cmyk.shape == (96, 128, 3) and cmyk.dtype == np.uint8
