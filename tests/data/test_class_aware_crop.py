"""Class-aware crops: with p=1 the window holds a rare pixel whenever the image has one, without one
it is the usual random crop, p=0 is byte-identical to albumentations' own crops, all seeded."""

from __future__ import annotations

import random

import albumentations as A
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from drone_seg.cli import CONFIG_DIR
from drone_seg.config_checks import check_config
from drone_seg.data.class_aware_crop import (
    ClassAwareRandomCrop,
    ClassAwareRandomResizedCrop,
    rare_pixel,
    window_holding,
)
from drone_seg.data.dataset import SegmentationDataset
from drone_seg.data.samplers import SeededTrainSampler
from drone_seg.errors import ConfigError

BOAT, PERSON = 5, 1
SEEDS = range(60)
CROP = {"size": (32, 32), "scale": (0.05, 0.2), "interpolation": 1, "mask_interpolation": 0}


def scene(boat_at: tuple[int, int] | None = (84, 150)) -> tuple[np.ndarray, np.ndarray]:
    """A 96x160 image of road (10) with a 6x6 boat whose top-left is `boat_at` (None: no boat)."""
    image = np.random.default_rng(0).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    mask = np.full((96, 160), 10, np.uint8)
    if boat_at is not None:
        mask[boat_at[0] : boat_at[0] + 6, boat_at[1] : boat_at[1] + 6] = BOAT
    return image, mask


def outputs(transform: A.BasicTransform, image: np.ndarray, mask: np.ndarray) -> list[dict]:
    results = []
    for seed in SEEDS:
        transform.set_random_seed(seed)
        results.append({**transform(image=image, mask=mask), "params": dict(transform.params)})
    return results


def holds_boat(result: dict) -> bool:
    return bool((result["mask"] == BOAT).any())


def test_with_p1_every_crop_holds_the_rare_class_a_random_crop_rarely_does() -> None:
    image, mask = scene()
    aware = outputs(
        ClassAwareRandomResizedCrop(**CROP, rare_p=1.0, rare_classes=["boat"]), image, mask
    )
    plain = outputs(A.RandomResizedCrop(**CROP), image, mask)
    assert all(holds_boat(r) for r in aware)
    assert sum(holds_boat(r) for r in plain) < len(SEEDS) / 4
    windows = {r["params"]["crop_coords"] for r in aware}
    assert len(windows) > len(SEEDS) / 2  # placed at random around the boat, not one fixed window
    for result in aware:  # the crop size is drawn as the plain crop draws it
        x_min, y_min, x_max, y_max = result["params"]["crop_coords"]
        assert 0 <= x_min < x_max <= 160 and 0 <= y_min < y_max <= 96
        assert 0.04 * 96 * 160 <= (x_max - x_min) * (y_max - y_min) <= 0.22 * 96 * 160


def test_without_a_rare_pixel_it_is_the_usual_random_crop() -> None:
    image, mask = scene(boat_at=None)
    aware = outputs(
        ClassAwareRandomResizedCrop(**CROP, rare_p=1.0, rare_classes=["boat"]), image, mask
    )
    plain = outputs(A.RandomResizedCrop(**CROP), image, mask)
    for ours, theirs in zip(aware, plain, strict=True):
        assert ours["params"]["crop_coords"] == theirs["params"]["crop_coords"]
        np.testing.assert_array_equal(ours["image"], theirs["image"])
    assert len({r["params"]["crop_coords"] for r in aware}) > len(SEEDS) / 2


@pytest.mark.parametrize(
    ("make_ours", "make_theirs"),
    [
        (
            lambda: ClassAwareRandomResizedCrop(**CROP, rare_classes=["boat"]),
            lambda: A.RandomResizedCrop(**CROP),
        ),
        (
            lambda: ClassAwareRandomCrop(
                120, 120, pad_if_needed=True, fill_mask=255, rare_classes=["boat"]
            ),
            lambda: A.RandomCrop(120, 120, pad_if_needed=True, fill_mask=255),
        ),
    ],
    ids=["resized_crop", "padded_crop"],
)
def test_p0_is_byte_identical_to_the_albumentations_crop(make_ours, make_theirs) -> None:
    """Without `rare_p` (its default, 0) the crops are albumentations' own, byte for byte. Built in
    the test, not at collection, so that mutation testing sees the test reach the constructor."""
    image, mask = scene()
    ours, theirs = make_ours(), make_theirs()
    for mine, plain in zip(outputs(ours, image, mask), outputs(theirs, image, mask), strict=True):
        assert mine["image"].tobytes() == plain["image"].tobytes()
        assert mine["mask"].tobytes() == plain["mask"].tobytes()


def test_padded_random_crop_holds_the_rare_pixel_in_the_padded_frame() -> None:
    image, mask = scene(boat_at=(0, 0))  # a 120x120 crop of a 96x160 image pads 24 rows
    transform = ClassAwareRandomCrop(
        120, 120, pad_if_needed=True, fill_mask=255, rare_p=1.0, rare_classes=["boat"]
    )
    results = outputs(transform, image, mask)
    assert all(holds_boat(r) and r["mask"].shape == (120, 120) for r in results)
    assert all((r["mask"] == 255).sum() == 24 * 120 for r in results)  # padding stays ignored


def test_padded_columns_shift_the_rare_pixel_and_widen_the_frame() -> None:
    """A 64x200 crop of the 96x160 image pads 20 columns on each side: the boat at column 0 sits
    at column 20 of the padded frame, and every crop holds it."""
    image, mask = scene(boat_at=(0, 0))
    transform = ClassAwareRandomCrop(
        64, 200, pad_if_needed=True, fill_mask=255, rare_p=1.0, rare_classes=["boat"]
    )
    for result in outputs(transform, image, mask):
        assert result["mask"].shape == (64, 200) and (result["mask"] == 255).sum() == 64 * 40
        np.testing.assert_array_equal(
            np.nonzero((result["mask"] == BOAT).any(axis=0))[0], range(20, 26)
        )


def test_without_a_mask_or_with_p0_no_number_is_drawn() -> None:
    """The crop of an image without a mask is the plain crop; with rare_p 0 a pipeline's sequence
    of outputs from one seed is the one with albumentations' crop (no extra number drawn)."""
    image, mask = scene()
    aware = ClassAwareRandomResizedCrop(**CROP, rare_p=1.0, rare_classes=["boat"])
    plain = A.RandomResizedCrop(**CROP)
    for seed in range(5):
        aware.set_random_seed(seed)
        plain.set_random_seed(seed)
        np.testing.assert_array_equal(aware(image=image)["image"], plain(image=image)["image"])
    flips = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    off = A.Compose(
        [ClassAwareRandomResizedCrop(**CROP, rare_p=0.0, rare_classes=["boat"]), *flips]
    )
    ref = A.Compose([A.RandomResizedCrop(**CROP), *flips])
    off.set_random_seed(0)
    ref.set_random_seed(0)
    for _ in range(20):
        np.testing.assert_array_equal(
            off(image=image, mask=mask)["mask"], ref(image=image, mask=mask)["mask"]
        )


def test_half_probability_moves_about_half_the_crops() -> None:
    image, mask = scene()
    transform = ClassAwareRandomResizedCrop(**CROP, rare_p=0.5, rare_classes=["boat"])
    share = np.mean([holds_boat(r) for r in outputs(transform, image, mask)])
    assert 0.4 <= share <= 0.8


def test_the_class_is_drawn_among_the_present_rare_classes_not_by_pixel_count() -> None:
    image, mask = scene()
    mask[:40, :60] = PERSON  # 2400 person pixels beside 36 boat pixels
    transform = ClassAwareRandomResizedCrop(**CROP, rare_p=1.0, rare_classes=["person", "boat"])
    share = np.mean([holds_boat(r) for r in outputs(transform, image, mask)])
    assert 0.3 <= share <= 0.8


def train_augment(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides))


def plain_pipeline(config: DictConfig) -> A.Compose:
    """The pipeline as it was before class-aware crops: albumentations' own crop class."""
    pipeline = OmegaConf.to_container(config.augment.train, resolve=True)
    crop = pipeline["transforms"][0]
    crop["_target_"] = "albumentations." + crop["_target_"].rsplit(".", 1)[1].removeprefix(
        "ClassAware"
    )
    del crop["rare_p"], crop["rare_classes"]
    return instantiate(pipeline)


@pytest.mark.parametrize("name", ["light", "baseline", "none"])
def test_pipelines_with_p0_are_byte_identical_and_with_p1_find_the_boat(name: str) -> None:
    image, mask = scene()
    sizes = ["augment.crop_size=[32,32]", "augment.crop_scale=[0.05,0.2]"]
    off = train_augment(f"augment={name}", *sizes)
    assert off.augment.class_aware_crop.p == 0.0
    ours, theirs = instantiate(off.augment.train), plain_pipeline(off)
    for seed in SEEDS:
        ours.set_random_seed(seed)
        theirs.set_random_seed(seed)
        mine, plain = ours(image=image, mask=mask), theirs(image=image, mask=mask)
        assert mine["image"].tobytes() == plain["image"].tobytes()
        assert mine["mask"].tobytes() == plain["mask"].tobytes()
    on = instantiate(
        train_augment(f"augment={name}", *sizes, "augment.class_aware_crop.p=1").augment.train
    )
    crop = on.transforms[0]
    for seed in SEEDS:
        on.set_random_seed(seed)
        on(image=image, mask=mask)
        x_min, y_min, x_max, y_max = crop.params["crop_coords"]
        assert (mask[y_min:y_max, x_min:x_max] == BOAT).any()


def test_unknown_class_names_are_refused_naming_the_key_and_the_classes() -> None:
    cfg = train_augment("augment.class_aware_crop.classes=[person,boats]")
    with pytest.raises(
        ConfigError,
        match=r"^augment\.class_aware_crop\.classes=\[person,boats\]"
        r" must be a non-empty list of values, each one of background, person, .* sky",
    ):
        check_config(cfg, "train")


def test_a_crop_refuses_unknown_classes_and_probabilities_outside_0_1() -> None:
    with pytest.raises(ConfigError, match=r"augment\.class_aware_crop\.classes.*'boats'.*sky"):
        ClassAwareRandomResizedCrop(**CROP, rare_p=0.5, rare_classes=["person", "boats"])
    for rare_p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=rf"^rare_p={rare_p} must be in \[0, 1\]$"):
            ClassAwareRandomCrop(32, 32, rare_p=rare_p, rare_classes=["boat"])
    assert ClassAwareRandomCrop(32, 32, rare_p=1.0, rare_classes=["boat"]).rare_p == 1.0
    off = ClassAwareRandomCrop(32, 32, rare_p=0.0, rare_classes=["boats"])  # off: not looked up
    assert not off._is_rare.any() and off.rare_classes == ["boats"]


def test_the_window_moves_to_every_position_that_holds_the_pixel_inside_the_frame() -> None:
    """A 10 wide, 8 high window holding pixel (row 5, column 20) of a 20 x 30 frame may start at
    rows 0..5 and columns 11..20, each reachable; at the corner only one position is left."""
    starts = set()
    for seed in range(300):
        left, top, right, bottom = window_holding(
            (3, 4, 13, 12), (5, 20), (20, 30), random.Random(seed)
        )
        assert (right - left, bottom - top) == (10, 8)
        starts.add((top, left))
    assert starts == {(top, left) for top in range(6) for left in range(11, 21)}
    corner = window_holding((0, 0, 10, 8), (19, 29), (20, 30), random.Random(0))
    assert corner == (20, 12, 30, 20)


def test_the_rare_pixel_is_of_a_class_drawn_uniformly_then_a_pixel_of_it() -> None:
    mask = np.full((6, 9), 10, np.uint8)
    mask[0:4, 0:5] = PERSON  # 20 pixels
    mask[5, 8] = BOAT  # 1 pixel, bottom right: (row 5, column 8)
    is_rare = np.zeros(256, bool)
    is_rare[[PERSON, BOAT]] = True
    draws = [rare_pixel(mask, is_rare, random.Random(seed)) for seed in range(400)]
    boats = [pixel for pixel in draws if pixel == (5, 8)]
    assert 0.4 < len(boats) / len(draws) < 0.6  # the class first: not 1 in 21 by pixel count
    assert all(mask[pixel] in (PERSON, BOAT) for pixel in draws)
    assert len(set(draws)) == 21  # every person pixel is drawn at some point
    is_rare[:] = False
    is_rare[BOAT] = True
    mask[5, 8] = 10
    assert rare_pixel(mask, is_rare, random.Random(0)) is None


@pytest.mark.parametrize("name", ["light", "none"])
def test_training_samples_with_both_tools_off_are_those_of_the_plain_pipeline(
    train_config, tmp_path, name: str
) -> None:
    cfg = train_config(f"augment={name}", f"data.cache_dir={tmp_path}", "augment.copy_paste.p=0")
    assert cfg.augment.copy_paste.p == 0.0 and cfg.augment.class_aware_crop.p == 0.0
    plain = plain_pipeline(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    ours = datamodule.train_set
    theirs = SegmentationDataset(ours.root, ours.samples, plain)
    assert ours.copy_paste is None
    for key in list(SeededTrainSampler(ours, seed=3))[:12]:
        mine, before = ours[key], theirs[key]
        assert mine["image"].numpy().tobytes() == before["image"].numpy().tobytes()
        assert mine["mask"].numpy().tobytes() == before["mask"].numpy().tobytes()
