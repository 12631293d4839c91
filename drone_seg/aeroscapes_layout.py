"""AeroScapes' layout on disk: folder names, the official split's id lists and subset codes.

Shared by the readers (`drone_seg.data`) and the synthetic set's writer (`drone_seg.synthetic`),
which writes the same layout; free of both, so neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

# AeroScapes' folders (also the synthetic set's), the default layout.
IMAGES_DIR = "JPEGImages"
MASKS_DIR = "SegmentationClass"
# AeroScapes' own split (also written for the synthetic set), relative to the data root.
AEROSCAPES_SPLIT: Mapping[str, str] = MappingProxyType(
    {"train": "ImageSets/trn.txt", "val": "ImageSets/val.txt"}
)
# The subset of each image in a split: train, val, or left out of both.
TRAIN, VAL, UNUSED = 0, 1, -1


def write_official_lists(
    ids: list[str], subset: np.ndarray, train_list: Path, val_list: Path
) -> None:
    """Write the subsets as the id lists the `official` split reads (AeroScapes' ImageSets/):
    one id per line, in dataset order; left-out images in neither."""
    for code, path in ((TRAIN, train_list), (VAL, val_list)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{i}\n" for i, s in zip(ids, subset, strict=True) if s == code))
