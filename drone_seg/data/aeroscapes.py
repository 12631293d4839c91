"""The AeroScapes on-disk layout: JPEGImages/<id>.jpg, SegmentationClass/<id>.png, ImageSets/."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from drone_seg.data.io import IMAGE_SUFFIXES, read_image, read_mask
from drone_seg.errors import DataError

IMAGES_DIR = "JPEGImages"
MASKS_DIR = "SegmentationClass"

Transform = Callable[..., dict[str, Any]]


def list_ids(root: Path) -> list[str]:
    """Return the sorted ids of the images under `root/JPEGImages` that have a mask."""
    images_dir, masks_dir = root / IMAGES_DIR, root / MASKS_DIR
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise DataError(
                f"{folder} not found: data.root must hold JPEGImages/ and SegmentationClass/"
            )
    ids = sorted(p.stem for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not ids:
        raise DataError(f"no images in {images_dir}: check data.root")
    missing = [i for i in ids if not (masks_dir / f"{i}.png").is_file()]
    if missing:
        raise DataError(
            f"mask {masks_dir / (missing[0] + '.png')} not found ({len(missing)} images lack a "
            "mask): add the masks or remove those images"
        )
    return ids


def image_path(root: Path, image_id: str) -> Path:
    """Return the image file of `image_id`, whatever its suffix."""
    for path in (root / IMAGES_DIR).glob(f"{image_id}.*"):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return path
    raise DataError(f"no image for id {image_id} in {root / IMAGES_DIR}")


def mask_path(root: Path, image_id: str) -> Path:
    """Return the mask file of `image_id`."""
    return root / MASKS_DIR / f"{image_id}.png"


class AeroScapesDataset(Dataset):
    """Image/mask pairs of AeroScapes (or the synthetic set) as uint8 CHW images and int64 masks.

    Images stay uint8 so that batches cross to the device 4x smaller; the model normalizes them.
    """

    def __init__(self, root: Path, ids: Sequence[str], transform: Transform | None = None) -> None:
        self.root = Path(root)
        self.ids = list(ids)
        self.transform = transform
        self.image_paths = [image_path(self.root, i) for i in self.ids]
        self.mask_paths = [mask_path(self.root, i) for i in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """Return sample `key`, or sample `key[0]` augmented with random seed `key[1]`."""
        index, seed = key if isinstance(key, tuple) else (key, None)
        if seed is not None and hasattr(self.transform, "set_random_seed"):
            self.transform.set_random_seed(seed)
        image = read_image(self.image_paths[index])
        mask = read_mask(self.mask_paths[index])
        if image.shape[:2] != mask.shape:
            raise DataError(
                f"image {self.image_paths[index]} is {image.shape[1]}x{image.shape[0]} but its "
                f"mask is {mask.shape[1]}x{mask.shape[0]}: masks must match their images"
            )
        if self.transform is not None:
            sample = self.transform(image=image, mask=mask)
            image, mask = sample["image"], sample["mask"]
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "index": index,
        }
