"""The numpy-written test datasets have the class mix the data tests need and read back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drone_seg.data.io import read_mask_encoded

from helpers.datasets import save_mask, scene_masks


def test_scene_masks_have_rare_and_common_classes() -> None:
    masks = scene_masks(sequences=20, frames=5)
    images_per_class = np.array([(masks == c).any(axis=(1, 2)).sum() for c in range(12)])
    assert masks.shape == (100, 48, 64)
    assert images_per_class[0] == 100 and images_per_class[9] > 50
    assert 0 < images_per_class[4] < images_per_class[9]


def test_saved_encodings_read_back_as_the_same_ids(tmp_path: Path) -> None:
    mask = scene_masks(sequences=1, frames=1, seed=3)[0]
    for encoding, expected in (
        ("ids", "class ids"),
        ("palette", "palette"),
        ("rgb", "RGB colours"),
    ):
        save_mask(tmp_path / f"{encoding}.png", mask, encoding)
        decoded, found = read_mask_encoded(tmp_path / f"{encoding}.png")
        assert found == expected
        assert np.array_equal(decoded, mask)
