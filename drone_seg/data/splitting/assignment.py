"""Which subset each image goes to: strategies by name (`data.split=`), and split files.

Strategies: `presence` (multilabel stratification on class presence, the reference), `pixels` (also
balances each class's pixels), `sequence` (whole sequences `SSSSSS` of ids `SSSSSS_FFF` on one side,
stratified as well as they allow), `official` (AeroScapes' ImageSets/trn.txt and val.txt).
`data.split_file=PATH` instead reuses a CSV `image,subset` as written here and in every run.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path
from typing import get_args

import numpy as np

from drone_seg.aeroscapes_layout import TRAIN, UNUSED, VAL
from drone_seg.data.layout import read_ids
from drone_seg.data.splitting.stratify import group_split, pixel_split, stratified_split
from drone_seg.errors import ConfigError, DataError
from drone_seg.schema import Strategy

log = logging.getLogger(__name__)

STRATEGIES: tuple[str, ...] = get_args(Strategy)
SUBSETS: tuple[str, ...] = ("train", "val")
_FRAME_ID = re.compile(r"^(.+)_\d+$")


def sequence_of(image_id: str) -> str:
    """The sequence an image belongs to: `SSSSSS` of `SSSSSS_FFF`, or the id itself."""
    match = _FRAME_ID.match(image_id)
    return match.group(1) if match else image_id


def stratified_assignment(
    strategy: str, ids: list[str], counts: np.ndarray, val_fraction: float, seed: int
) -> np.ndarray:
    """Subset (0 train, 1 val) of each image under a random strategy, seeded."""
    if strategy == "presence":
        is_val = stratified_split(counts > 0, val_fraction, seed)
    elif strategy == "pixels":
        is_val = pixel_split(counts, val_fraction, seed)
    elif strategy == "sequence":
        groups = np.array([sequence_of(i) for i in ids])
        if len(set(groups)) == len(ids):
            log.warning("No image id has the form SEQUENCE_FRAME: each image is its own sequence")
        is_val = group_split(counts, groups, val_fraction, seed)
    else:
        raise ValueError(f"no stratified split {strategy!r}: the config's schema allows none")
    return is_val.astype(np.int64)


def official_assignment(ids: list[str], train_list: Path, val_list: Path) -> np.ndarray:
    """Subset of each image from the official id lists; images in neither are left out (-1)."""
    subset = np.full(len(ids), UNUSED, dtype=np.int64)
    position = {image_id: n for n, image_id in enumerate(ids)}
    seen: dict[str, Path] = {}
    for code, path in ((TRAIN, train_list), (VAL, val_list)):
        if not path.is_file():
            raise ConfigError(
                f"data.split=official needs {path}, which does not exist: use another data.split"
            )
        for image_id in read_ids(path):
            if image_id in seen:
                raise DataError(f"id {image_id} is listed in both {seen[image_id]} and {path}")
            if image_id not in position:
                raise DataError(
                    f"id {image_id} listed in {path} has no image/mask pair: fix the list"
                )
            seen[image_id] = path
            subset[position[image_id]] = code
    return subset


def read_split_file(path: Path, ids: list[str]) -> np.ndarray:
    """Subset of each image from a CSV `image,subset`; images it does not list are left out (-1)."""
    subset = np.full(len(ids), UNUSED, dtype=np.int64)
    position = {image_id: n for n, image_id in enumerate(ids)}
    try:
        with path.open(newline="") as file:
            rows = list(csv.reader(file))
    except OSError as error:
        raise ConfigError(f"cannot read data.split_file={path}: {error.strerror}") from error
    if not rows or [cell.strip() for cell in rows[0]] != ["image", "subset"]:
        raise DataError(f"{path} does not start with the header image,subset: not a split file")
    listed: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2 or row[1].strip() not in SUBSETS:
            raise DataError(f"{path} line {line}: expected image,train or image,val, got {row}")
        image_id, name = row[0].strip(), row[1].strip()
        if image_id not in position:
            raise DataError(f"{path} line {line}: image {image_id} is not in the dataset")
        if image_id in listed:
            raise DataError(f"{path} line {line}: image {image_id} is listed twice")
        listed.add(image_id)
        subset[position[image_id]] = SUBSETS.index(name)
    return subset


def write_split_file(path: Path, ids: list[str], subset: np.ndarray) -> None:
    """Write the CSV `image,subset` (train rows first, then val; left-out images not listed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["image", "subset"])
        for code, name in enumerate(SUBSETS):
            writer.writerows((i, name) for i, s in zip(ids, subset, strict=True) if s == code)
