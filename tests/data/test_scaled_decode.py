"""Decoding only what the crop needs: a crop shrunk 2, 4 or 8 times decodes the JPEG at that scale
and gives the full decode's bilinear crop within interpolation (mean |difference| <= 6 of 255 per
crop, 99% of pixels within 48, on small detailed renders), closer to an area-averaged resize than
the bilinear one is, with the same box and the same mask; a smaller shrink is the full decode's,
byte for byte; the dataset's pipeline draws as the plain one does."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from drone_seg.cli import CONFIG_DIR
from drone_seg.data.class_aware_crop import ClassAwareRandomResizedCrop
from drone_seg.data.copy_paste import CopyPaste
from drone_seg.data.dataset import SegmentationDataset
from drone_seg.data.io import EncodedImage, read_encoded, read_image, read_mask
from drone_seg.data.layout import find_samples
from drone_seg.data.scaled_decode import resized_box, scale_for
from drone_seg.synthetic import generate_dataset

CROP = {"scale": (0.25, 1.0), "ratio": (0.75, 1.3333), "interpolation": 1, "mask_interpolation": 0}
RARE = {"rare_p": 0.5, "rare_classes": ["person", "bike", "drone", "boat", "animal", "obstacle"]}
MEAN_TOLERANCE, P99_TOLERANCE = 6.0, 48.0  # grey levels of 255


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six rendered 384x224 drone scenes (JPEG images, PNG masks)."""
    root = tmp_path_factory.mktemp("scaled") / "synthetic"
    generate_dataset(root, num_images=6, seed=3, width=384, height=224, frames_per_sequence=3)
    return root


def pairs(root: Path) -> list[tuple[Path, Path]]:
    samples = find_samples(root, "JPEGImages", "SegmentationClass")
    return list(zip(samples.image_paths, samples.mask_paths, strict=True))


class Recorded(EncodedImage):
    """An EncodedImage that records the scales it is decoded at."""

    scales: list[int]

    def decode(self, denominator: int = 1) -> np.ndarray:
        self.scales.append(denominator)
        return super().decode(denominator)


def recorded(path: Path) -> Recorded:
    image = read_encoded(path)
    assert isinstance(image, EncodedImage)
    lazy = Recorded(image.path, image.data, image.shape)
    object.__setattr__(lazy, "scales", [])
    return lazy


def test_the_scale_is_the_largest_power_of_two_the_box_shrinks_by_on_both_axes() -> None:
    assert scale_for((0, 0, 1280, 720), (256, 256)) == 2  # 2.8 high, 5 wide
    assert scale_for((0, 0, 1280, 720), (160, 160)) == 4  # 4.5 high
    assert scale_for((10, 10, 1290, 1290), (160, 160)) == 8
    assert scale_for((0, 0, 720, 720), (512, 512)) == 1  # 1.4: the full decode
    assert scale_for((0, 0, 100, 50), (100, 100)) == 1  # enlarged


def test_a_decode_at_scale_is_a_smaller_image_of_the_same_scene(scenes: Path) -> None:
    image = recorded(pairs(scenes)[0][0])
    full = image.decode()
    assert np.array_equal(full, read_image(image.path)) and full.shape == (224, 384, 3)
    for denominator in (2, 4, 8):
        scaled = image.decode(denominator)
        assert scaled.shape == (-(-224 // denominator), -(-384 // denominator), 3)
        area = cv2.resize(full, scaled.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(scaled.astype(int) - area).mean() < MEAN_TOLERANCE


@pytest.mark.parametrize("size", [(48, 48), (64, 96), (100, 100)])
def test_a_crop_from_a_scaled_decode_matches_the_full_decode(scenes: Path, size: tuple) -> None:
    crop = ClassAwareRandomResizedCrop(size=size, **CROP, **RARE)
    used: set[int] = set()
    off_area = {"scaled": 0.0, "bilinear": 0.0}  # summed mean |difference| to the area resize
    for n, (image_path, mask_path) in enumerate(pairs(scenes)):
        mask = read_mask(mask_path)
        for seed in range(n * 10, n * 10 + 10):
            image = recorded(image_path)
            crop.set_random_seed(seed)
            lazy = crop(image=image, mask=mask)
            box = crop.params["crop_coords"]
            crop.set_random_seed(seed)
            plain = crop(image=read_image(image_path), mask=mask)
            assert crop.params["crop_coords"] == box
            assert np.array_equal(lazy["mask"], plain["mask"])  # nearest, full resolution
            assert lazy["image"].shape == plain["image"].shape == (*size, 3)
            assert image.scales == [scale_for(box, size)]
            used.add(image.scales[0])
            difference = np.abs(lazy["image"].astype(int) - plain["image"])
            if image.scales[0] == 1:
                assert not difference.any()  # the full decode's own path, byte for byte
            else:
                assert difference.mean() <= MEAN_TOLERANCE
                assert np.percentile(difference, 99) <= P99_TOLERANCE
                x_min, y_min, x_max, y_max = box
                region = read_image(image_path)[y_min:y_max, x_min:x_max]
                area = cv2.resize(region, size[::-1], interpolation=cv2.INTER_AREA).astype(int)
                off_area["scaled"] += np.abs(lazy["image"] - area).mean()
                off_area["bilinear"] += np.abs(plain["image"] - area).mean()
    assert off_area["scaled"] < off_area["bilinear"]  # the DCT scaling low-passes, bilinear skips
    assert used & {2, 4, 8}  # crops decoded at scale
    assert 1 in used or size == (48, 48)  # and, but at 48 (every shrink >= 2.3), whole decodes


def test_a_scaled_crop_samples_the_full_decodes_pixel_centres() -> None:
    """On a ramp of 1 grey level per pixel, half a pixel off at 1/4 scale is 2 levels off."""
    ramp = np.add.outer(np.arange(200), np.arange(240)).clip(0, 255).astype(np.uint8)
    full = np.repeat(ramp[..., None], 3, axis=2)
    scaled = cv2.resize(full, (60, 50), interpolation=cv2.INTER_AREA)  # an exact 1/4 scale
    box = (37, 21, 217, 181)
    ours = resized_box(scaled, 4, box, (40, 45))
    expected = cv2.resize(full[21:181, 37:217], (45, 40), interpolation=cv2.INTER_LINEAR)
    assert np.abs(ours.astype(int) - expected)[2:-2, 2:-2].max() <= 1


def test_the_dataset_pipeline_gives_what_the_plain_pipeline_gives(scenes: Path) -> None:
    """`augment=baseline`'s whole list: same masks, images equal at a shrink under 2 (crops of
    200 from 224 rows) and within interpolation at 48 (every crop shrinks 2 or more)."""
    samples = find_samples(scenes, "JPEGImages", "SegmentationClass")
    for side, exact in ((200, True), (48, False)):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("train", [f"augment.crop_size=[{side},{side}]", "augment=baseline"])
        dataset = SegmentationDataset(scenes, samples, instantiate(cfg.augment.train))
        plain = SegmentationDataset(scenes, samples, instantiate(cfg.augment.train))
        plain.pipeline.first = None  # the image decoded whole, then the whole Compose
        for key in [(index, seed) for index in range(len(samples)) for seed in (1, 2)]:
            ours, theirs = dataset[key], plain[key]
            assert np.array_equal(ours["mask"].numpy(), theirs["mask"].numpy())
            difference = (ours["image"].int() - theirs["image"].int()).abs()
            assert (not difference.any()) if exact else difference.float().mean() <= 8


def test_with_copy_paste_only_the_samples_it_pastes_into_are_decoded_whole(
    scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = find_samples(scenes, "JPEGImages", "SegmentationClass")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", ["augment.crop_size=[48,48]", "augment=light"])
    counts = np.zeros((len(samples), 12), np.int64)
    for index, path in enumerate(samples.mask_paths):
        counts[index] = np.bincount(read_mask(path).ravel(), minlength=256)[:12]
    paste = CopyPaste.from_config({**cfg.augment.copy_paste, "p": 0.5}, counts)
    assert paste is not None
    pasting = SegmentationDataset(scenes, samples, instantiate(cfg.augment.train), paste)
    plain = SegmentationDataset(scenes, samples, instantiate(cfg.augment.train))
    whole: list[int] = []
    read = SegmentationDataset.read
    monkeypatch.setattr(
        SegmentationDataset, "read", lambda self, i: whole.append(i) or read(self, i)
    )
    coins = [paste.pastes(seed) for seed in range(12)]
    assert any(coins) and not all(coins)
    for seed, coin in enumerate(coins):
        whole.clear()
        ours = pasting[(seed % len(samples), seed)]
        assert bool(whole) == coin  # the sample, then its donor, read whole only when pasting
        if not coin:  # no paste: the scaled decode, as without copy-paste
            theirs = plain[(seed % len(samples), seed)]
            assert np.array_equal(ours["image"].numpy(), theirs["image"].numpy())


def test_a_png_image_is_decoded_at_once_and_cropped_as_before(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image = read_encoded(tmp_path / "a.png")
    assert isinstance(image, np.ndarray) and np.array_equal(image, pixels)
    crop = ClassAwareRandomResizedCrop(size=(24, 24), **CROP)
    crop.set_random_seed(0)
    assert crop(image=image, mask=np.zeros((96, 128), np.uint8))["image"].shape == (24, 24, 3)
