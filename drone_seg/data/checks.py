"""Checks run before the first training step: each problem stops the run with one line naming the
file or config key and the fix, instead of a crash mid-epoch or a quietly wrong score.

Unreadable files, bad labels and unknown colours are caught while the statistics are gathered
(`statistics.py`); this module checks what needs the whole table. The split's own checks are in
`splitting/checks.py`.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from drone_seg.classes import IGNORE_INDEX
from drone_seg.data.layout import Samples
from drone_seg.data.masks import DESCRIPTIONS
from drone_seg.data.statistics import DatasetStats
from drone_seg.errors import DataError

log = logging.getLogger(__name__)


def check_sizes(samples: Samples, stats: DatasetStats) -> None:
    """Every mask must have its image's height and width."""
    mismatch = np.flatnonzero((stats.image_sizes != stats.mask_sizes).any(axis=1))
    if mismatch.size:
        n = int(mismatch[0])
        (ih, iw), (mh, mw) = stats.image_sizes[n], stats.mask_sizes[n]
        raise DataError(
            f"image {samples.image_paths[n]} is {iw}x{ih} but its mask {samples.mask_paths[n]} is "
            f"{mw}x{mh} ({mismatch.size} pairs differ): masks must have their image's size"
        )


def check_labelled(samples: Samples, stats: DatasetStats) -> None:
    """Some mask must hold a labelled pixel (a class id, not the ignore label): stop otherwise, as
    there is nothing to learn; warn about the masks that hold none."""
    labelled = stats.counts.sum(axis=1)
    if not labelled.any():
        raise DataError(
            f"no mask of the {len(samples)} in {samples.mask_paths[0].parent} holds a labelled "
            f"pixel (all are {IGNORE_INDEX}, ignored): nothing to learn; check data.masks_dir and "
            "the masks' encoding"
        )
    empty = np.flatnonzero(labelled == 0)
    if empty.size:
        log.warning(
            "%d masks hold no labelled pixel (only %d, ignored), e.g. %s: they add nothing",
            empty.size,
            IGNORE_INDEX,
            samples.mask_paths[int(empty[0])],
        )


def log_orientations(samples: Samples, stats: DatasetStats, shown: int = 3) -> None:
    """Warn once when files carry an EXIF orientation tag other than 1: they are read as stored."""
    tagged = [
        str(paths[n])
        for column, paths in enumerate((samples.image_paths, samples.mask_paths))
        for n in np.flatnonzero(stats.orientations[:, column] > 1).tolist()
    ]
    if tagged:
        more = f" and {len(tagged) - shown} more" if len(tagged) > shown else ""
        log.warning(
            "%d files carry an EXIF orientation tag (%s%s): their pixels are used as stored, the "
            "tag ignored, as for every image and mask; rotate the pixels if the labels follow the "
            "tag",
            len(tagged),
            ", ".join(tagged[:shown]),
            more,
        )


def log_encodings(stats: DatasetStats) -> None:
    """Say which mask encodings were found, and how many masks use each."""
    for encoding, count in sorted(Counter(stats.encodings).items()):
        log.info("Masks: %d %s", count, DESCRIPTIONS[encoding])
