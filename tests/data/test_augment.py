"""Augmentation configs: sizes as configured, masks never get new classes, and every pixel that
padding or warping creates is labelled 255 (ignored), never background."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from drone_seg.cli import CONFIG_DIR

LABELS = {1, 5, 9}
WARPS = {
    "Affine", "ElasticTransform", "GridDistortion", "OpticalDistortion", "Perspective",
    "RandomCrop", "CoarseDropout",
}  # fmt: skip


def augment_config(name: str, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"augment={name}", *overrides])
    return cfg.augment


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
    pipeline = OmegaConf.to_container(augment_config(name).train)
    warps = warps_of(pipeline)
    expected = WARPS - {"RandomCrop"} if name == "baseline" else {"RandomCrop"}
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
        if entry["_target_"].rsplit(".", 1)[-1] in {"Affine", "RandomCrop", "CoarseDropout"}:
            assert created_any, entry["_target_"]


def test_masks_are_warped_nearest_neighbour() -> None:
    for entry in warps_of(OmegaConf.to_container(augment_config("baseline").train)):
        assert entry.get("mask_interpolation", 0) == 0
        assert entry.get("fill_mask") == 255, entry["_target_"]
