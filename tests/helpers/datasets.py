"""Small datasets written straight from numpy for the data tests (the renderer is too slow for
1,000 images)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from drone_seg.classes import NUM_CLASSES, PALETTE

# How likely each class is to be in a sequence: common, medium and rare classes, like drone data.
RATES = (0.0, 0.35, 0.12, 0.5, 0.06, 0.1, 0.08, 0.3, 0.45, 0.9, 0.6, 0.55)
LARGE = (8, 9, 10)  # construction, vegetation, road: big regions; the others are objects


def scene_masks(
    sequences: int = 100, frames: int = 10, height: int = 48, width: int = 64, seed: int = 0
) -> np.ndarray:
    """Class-id masks (sequences x frames, H, W): objects whose size varies a lot between
    sequences (so pixels and presence disagree) and drift a little between frames."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((sequences, frames, height, width), np.uint8)
    for sequence in masks:
        if rng.random() < RATES[11]:
            sequence[:, : rng.integers(4, height // 3)] = 11
        for label in range(1, 11):
            if rng.random() >= RATES[label]:
                continue
            side = (
                rng.uniform(0.25, 0.6)
                if label in LARGE
                else np.exp(rng.uniform(np.log(0.04), np.log(0.35)))
            )
            h = max(1, int(side * height))
            w = max(1, int(side * width * rng.uniform(0.6, 1.6)))
            y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
            for frame in sequence:
                if label not in LARGE and rng.random() < 0.15:
                    continue
                dy, dx = rng.integers(-2, 3, 2)
                top, left = np.clip(y + dy, 0, height - h), np.clip(x + dx, 0, width - w)
                frame[top : top + h, left : left + w] = label
    return masks.reshape(-1, height, width)


def frame_ids(sequences: int, frames: int) -> list[str]:
    """AeroScapes-style ids SSSSSS_FFF."""
    return [f"{s:06d}_{f:03d}" for s in range(sequences) for f in range(frames)]


def save_mask(path: Path, mask: np.ndarray, encoding: str = "ids") -> None:
    """Write a class-id mask as 8-bit ids, a palette PNG or an RGB colour PNG."""
    if encoding == "ids":
        Image.fromarray(mask, mode="L").save(path)
    elif encoding == "palette":
        image = Image.fromarray(mask, mode="P")
        image.putpalette([channel for colour in PALETTE for channel in colour])
        image.save(path)
    elif encoding == "rgb":
        Image.fromarray(ids_to_colours(mask), mode="RGB").save(path)
    else:
        raise ValueError(encoding)


def ids_to_colours(ids: np.ndarray) -> np.ndarray:
    """Class ids (H, W) as an RGB colour mask (H, W, 3), ignore label white: the inverse of
    drone_seg.data.masks' reading, to write colour-mask fixtures."""
    table = np.full((256, 3), 255, dtype=np.uint8)
    table[: len(PALETTE)] = PALETTE
    return table[ids]


def image_for(mask: np.ndarray) -> np.ndarray:
    """An RGB image whose colours follow the mask's classes (learnable), as uint8 (H, W, 3)."""
    colours = np.array(PALETTE, dtype=np.int16)[np.minimum(mask, NUM_CLASSES - 1)]
    return np.clip(colours // 2 + 60, 0, 255).astype(np.uint8)


def write_dataset(
    root: Path,
    masks: np.ndarray,
    ids: list[str],
    encoding: str = "ids",
    images_dir: str = "JPEGImages",
    masks_dir: str = "SegmentationClass",
    image_suffix: str = ".jpg",
) -> Path:
    """Write images and masks in the given folders under `root`; return `root`."""
    (root / images_dir).mkdir(parents=True, exist_ok=True)
    (root / masks_dir).mkdir(parents=True, exist_ok=True)
    for image_id, mask in zip(ids, masks, strict=True):
        image = image_for(mask)
        cv2.imwrite(str(root / images_dir / f"{image_id}{image_suffix}"), image[..., ::-1])
        save_mask(root / masks_dir / f"{image_id}.png", mask, encoding)
    return root
