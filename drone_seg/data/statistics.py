"""Per-image class pixel counts: the basis of the split, the split report and class weights."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from drone_seg.classes import IGNORE_INDEX, NUM_CLASSES
from drone_seg.data.io import read_mask
from drone_seg.errors import DataError


def mask_class_counts(path: Path) -> np.ndarray:
    """Return the pixel count of each class in the mask at `path`; reject labels outside 0..11."""
    counts = np.bincount(read_mask(path).ravel(), minlength=256)
    counts[IGNORE_INDEX] = 0
    invalid = np.flatnonzero(counts[NUM_CLASSES:])
    if invalid.size:
        raise DataError(
            f"mask {path} holds label {invalid[0] + NUM_CLASSES}: labels must be "
            f"0..{NUM_CLASSES - 1} or {IGNORE_INDEX} (ignored); fix the mask or its encoding"
        )
    return counts[:NUM_CLASSES].astype(np.int64)


def class_pixel_counts(mask_paths: Sequence[Path], workers: int = 4) -> np.ndarray:
    """Return an (images, classes) int64 table of pixel counts, decoding masks in threads."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(mask_class_counts, mask_paths))
    return np.stack(rows) if rows else np.zeros((0, NUM_CLASSES), dtype=np.int64)
