"""Per-image statistics: class pixel counts, mask and image sizes, mask encoding, EXIF orientation.

They are the basis of the split, the split report, the checks before training and class weights.
Every image and mask is decoded completely, by the readers training uses (`io.py`), in threads
(OpenCV and PIL release the GIL while decoding), so that a truncated or corrupt file stops the run
here, naming it. The table is cached per file by `stats_cache.py`: a second run decodes no pixels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drone_seg.classes import IGNORE_INDEX, NUM_CLASSES
from drone_seg.data.io import exif_orientation, read_image, read_mask_details
from drone_seg.data.layout import Samples
from drone_seg.data.masks import ENCODINGS
from drone_seg.data.stats_cache import StatsCache
from drone_seg.errors import DataError

log = logging.getLogger(__name__)

# Columns of one row: class pixel counts, ignored pixels, mask h, w, image h, w, encoding index,
# EXIF orientation tag of the image and of the mask (1 when absent).
ROW_WIDTH = NUM_CLASSES + 8


@dataclass(frozen=True)
class DatasetStats:
    """Per-image statistics of a dataset as one int64 table, with named views of its columns."""

    table: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        """(images, classes) pixel count of each class."""
        return self.table[:, :NUM_CLASSES]

    @property
    def ignored(self) -> np.ndarray:
        """(images,) pixels labelled with the ignore index."""
        return self.table[:, NUM_CLASSES]

    @property
    def mask_sizes(self) -> np.ndarray:
        """(images, 2) height and width of each mask."""
        return self.table[:, NUM_CLASSES + 1 : NUM_CLASSES + 3]

    @property
    def image_sizes(self) -> np.ndarray:
        """(images, 2) height and width of each image."""
        return self.table[:, NUM_CLASSES + 3 : NUM_CLASSES + 5]

    @property
    def encodings(self) -> list[str]:
        """The mask encoding of each image (see `masks.ENCODINGS`)."""
        return [ENCODINGS[i] for i in self.table[:, NUM_CLASSES + 5]]

    @property
    def orientations(self) -> np.ndarray:
        """(images, 2) EXIF orientation tag of each image and of its mask (1: none or as stored)."""
        return self.table[:, NUM_CLASSES + 6 : NUM_CLASSES + 8]


def mask_class_counts(path: Path) -> tuple[np.ndarray, int, tuple[int, int], str, int]:
    """Pixel count per class, ignored pixels, (height, width), encoding and EXIF orientation tag
    of the mask at `path`.

    Labels outside 0..11 other than the ignore label stop the run here, naming the file.
    """
    mask, encoding, orientation = read_mask_details(path)
    counts = np.bincount(mask.ravel(), minlength=256)
    invalid = np.flatnonzero(counts[NUM_CLASSES:IGNORE_INDEX])
    if invalid.size:
        raise DataError(
            f"mask {path} holds label {invalid[0] + NUM_CLASSES} in "
            f"{counts[invalid[0] + NUM_CLASSES]} pixels: labels must be 0..{NUM_CLASSES - 1} or "
            f"{IGNORE_INDEX} (ignored); fix the mask or its encoding"
        )
    return counts[:NUM_CLASSES], int(counts[IGNORE_INDEX]), mask.shape, encoding, orientation


def scan_pair(image_path: Path, mask_path: Path) -> np.ndarray:
    """The statistics row of one image/mask pair (see ROW_WIDTH), both decoded completely."""
    counts, ignored, mask_shape, encoding, mask_orientation = mask_class_counts(mask_path)
    image_shape = read_image(image_path).shape[:2]
    row = np.empty(ROW_WIDTH, dtype=np.int64)
    row[:NUM_CLASSES] = counts
    row[NUM_CLASSES] = ignored
    row[NUM_CLASSES + 1 : NUM_CLASSES + 3] = mask_shape
    row[NUM_CLASSES + 3 : NUM_CLASSES + 5] = image_shape
    row[NUM_CLASSES + 5] = ENCODINGS.index(encoding)
    row[NUM_CLASSES + 6] = exif_orientation(image_path)
    row[NUM_CLASSES + 7] = mask_orientation
    return row


def parallel_map(function: Callable[..., np.ndarray], *arguments: Iterable) -> list[np.ndarray]:
    """`map` over threads, in order; on the first error the queued work is dropped, not awaited."""
    pool = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
    try:
        return list(pool.map(function, *arguments))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def dataset_statistics(samples: Samples, cache_dir: Path | None) -> DatasetStats:
    """Return the statistics of every sample, reusing cached rows of files that did not change."""
    cache = StatsCache.for_samples(samples, cache_dir)
    rows, missing = cache.load(ROW_WIDTH)
    if missing:
        todo = sorted(missing)
        log.info("Decoding %d of %d image/mask pairs for statistics", len(todo), len(samples))
        images = [samples.image_paths[i] for i in todo]
        masks = [samples.mask_paths[i] for i in todo]
        rows[todo] = np.stack(parallel_map(scan_pair, images, masks))
        cache.save(rows)
    return DatasetStats(rows)
