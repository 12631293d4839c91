"""Augmentation configs: sizes as configured, masks never get new classes, and every pixel that
padding or warping creates is labelled 255 (ignored), never background."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from drone_seg.data.dataset import SegmentationDataset
from drone_seg.data.layout import find_samples

from helpers.config import compose_config
from helpers.datasets import save_mask

LABELS = {1, 5, 9}
WARPS = {
    "Affine", "ElasticTransform", "GridDistortion", "OpticalDistortion", "Perspective",
    "ClassAwareRandomCrop", "CoarseDropout",
}  # fmt: skip
ALWAYS_CREATE = {"Affine", "ClassAwareRandomCrop", "CoarseDropout"}  # at p=1, in a few seeds


def augment_config(name: str, *overrides: str) -> DictConfig:
    return compose_config("train", f"augment={name}", *overrides).augment


def bright_image_and_mask(height: int = 96, width: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """An image with no black pixel (so black means "created"), and a mask of labels 1, 5, 9."""
    rng = np.random.default_rng(0)
    image = rng.integers(100, 220, (height, width, 3), dtype=np.uint8)
    mask = np.full((height, width), 1, np.uint8)
    mask[:, width // 3 :] = 5
    mask[height // 3 : 2 * height // 3, width // 4 : width // 2] = 9
    return image, mask


def warps_of(node: object) -> list[dict]:
    """The config entries of the geometric transforms (and dropout) anywhere in a pipeline."""
    if isinstance(node, dict):
        found = [node] if str(node.get("_target_", "")).rsplit(".", 1)[-1] in WARPS else []
        return found + [w for value in node.values() for w in warps_of(value)]
    if isinstance(node, list):
        return [w for item in node for w in warps_of(item)]
    return []


@pytest.mark.parametrize("name", ["baseline", "light", "none"])
def test_pipelines_keep_sizes_and_labels(name: str) -> None:
    cfg = augment_config(name, "augment.crop_size=[112,176]", "augment.val_size=[40,56]")
    train, val = instantiate(cfg.train), instantiate(cfg.val)
    image, mask = bright_image_and_mask()
    seen: set[int] = set()
    for seed in range(40):
        train.set_random_seed(seed)
        out = train(image=image, mask=mask)
        assert out["image"].shape == (112, 176, 3) and out["mask"].shape == (112, 176)
        assert out["mask"].dtype == np.uint8
        created = (out["image"] == 0).all(axis=-1)
        assert (out["mask"][created] == 255).all()
        seen |= set(np.unique(out["mask"]).tolist())
    assert seen <= LABELS | {255}
    assert seen >= LABELS
    assert (255 in seen) == (name != "light")  # light only crops inside the image
    out = val(image=image, mask=mask)
    assert out["image"].shape == (40, 56, 3) and set(np.unique(out["mask"])) <= LABELS


@pytest.mark.parametrize("name", ["baseline", "none"])
def test_every_warp_labels_the_pixels_it_creates_255(name: str) -> None:
    pipeline = OmegaConf.to_container(augment_config(name).train, resolve=True)
    warps = warps_of(pipeline)
    expected = WARPS - {"ClassAwareRandomCrop"} if name == "baseline" else {"ClassAwareRandomCrop"}
    assert {w["_target_"].rsplit(".", 1)[-1] for w in warps} == expected
    image, mask = bright_image_and_mask()
    for entry in warps:
        entry = {**entry, "p": 1.0}
        if entry["_target_"].endswith("Affine"):
            entry["rotate"] = [30, 30]
        if entry["_target_"].endswith("RandomCrop"):
            entry.update(height=128, width=192)
        transform = instantiate(entry)
        created_any = False
        for seed in range(5):
            transform.set_random_seed(seed)
            out = transform(image=image, mask=mask)
            created = (out["image"] == 0).all(axis=-1)
            assert (out["mask"][created] == 255).all(), entry["_target_"]
            assert set(np.unique(out["mask"]).tolist()) <= LABELS | {255}, entry["_target_"]
            created_any |= bool(created.any())
        if entry["_target_"].rsplit(".", 1)[-1] in ALWAYS_CREATE:
            assert created_any, entry["_target_"]


def test_masks_are_warped_nearest_neighbour() -> None:
    for entry in warps_of(OmegaConf.to_container(augment_config("baseline").train)):
        assert entry.get("mask_interpolation", 0) == 0
        assert entry.get("fill_mask") == 255, entry["_target_"]


def test_samples_never_wrap_read_only_arrays(tmp_path) -> None:
    """torch would share (and warn about) a read-only array: PIL's masks, or a transform's output
    laid out channels-first, whose CHW view needs no copy."""
    image, mask = bright_image_and_mask()
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    save_mask(tmp_path / "masks" / "a.png", mask)
    frozen = np.ascontiguousarray(image.transpose(2, 0, 1))
    frozen.flags.writeable = False
    frozen_mask = mask.copy()
    frozen_mask.flags.writeable = False

    def transform(image: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        return {"image": frozen.transpose(1, 2, 0), "mask": frozen_mask}

    samples = find_samples(tmp_path, "images", "masks")
    for dataset in (
        SegmentationDataset(tmp_path, samples),
        SegmentationDataset(tmp_path, samples, transform),
    ):
        item = dataset[(0, 1)]
        assert not np.shares_memory(item["image"].numpy(), frozen)
        assert not np.shares_memory(item["mask"].numpy(), frozen_mask)
        np.testing.assert_array_equal(item["image"].numpy(), image.transpose(2, 0, 1))
        np.testing.assert_array_equal(item["mask"].numpy(), mask)
