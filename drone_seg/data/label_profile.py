"""The label statistics AeroScapes' reference table holds, measured on any dataset's masks: per
class the share of images holding it, its mean area where present and its median box, and the
frame count of each flight (sequence `SSSSSS` of ids `SSSSSS_FFF`)."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drone_seg.classes import NUM_CLASSES
from drone_seg.data.io import read_mask
from drone_seg.data.splitting.assignment import sequence_of


def mask_figures(mask: np.ndarray) -> np.ndarray:
    """(classes, 3) % area and box height and width (% of the image) around each class's pixels;
    NaN rows for classes absent from the mask."""
    height, width = mask.shape
    figures = np.full((NUM_CLASSES, 3), np.nan)
    counts = np.bincount(mask.ravel(), minlength=256)[:NUM_CLASSES]
    for c in np.flatnonzero(counts):
        pixels = mask == c
        rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
        figures[c] = (
            100.0 * counts[c] / mask.size,
            100.0 * (rows[-1] - rows[0] + 1) / height,
            100.0 * (cols[-1] - cols[0] + 1) / width,
        )
    return figures


@dataclass(frozen=True)
class LabelProfile:
    """Per class: % of images holding it, mean % area where present, median box height and width
    (% of the image) where present (NaN for a class in no image); and the flights' frame counts."""

    images: int
    image_share: np.ndarray
    mean_area: np.ndarray
    box_height: np.ndarray
    box_width: np.ndarray
    flight_lengths: tuple[int, ...]

    @classmethod
    def from_figures(cls, ids: Sequence[str], figures: np.ndarray) -> LabelProfile:
        """The profile of images `ids` from their stacked `mask_figures` (images, classes, 3)."""
        present = ~np.isnan(figures[..., 0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: classes in no image
            area = np.nanmean(figures[..., 0], 0)
            height, width = np.nanmedian(figures[..., 1:], 0).T
        flights = Counter(sequence_of(i) for i in ids)
        return cls(
            len(ids), 100.0 * present.mean(0), area, height, width, tuple(sorted(flights.values()))
        )

    @classmethod
    def measure(cls, ids: Sequence[str], masks: Iterable[np.ndarray]) -> LabelProfile:
        """The profile of the masks of the images `ids` (in the same order)."""
        return cls.from_figures(ids, np.stack([mask_figures(mask) for mask in masks]))

    @classmethod
    def of_files(cls, ids: Sequence[str], mask_paths: Sequence[Path]) -> LabelProfile:
        """The profile of the mask files, read and measured in threads (decoding releases the
        GIL)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            figures = list(pool.map(lambda path: mask_figures(read_mask(path)), mask_paths))
        return cls.from_figures(ids, np.stack(figures))
