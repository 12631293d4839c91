"""DataSource: where the images are, their checked statistics, and the train/val split.

Everything the data keys of `conf/data/` decide before any tensor exists; free of torch and
Lightning, so that the split and stats commands start fast. `DroneDataModule` wraps it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from drone_seg.aeroscapes_layout import TRAIN, VAL
from drone_seg.data.checks import check_labelled, check_sizes, log_encodings, log_orientations
from drone_seg.data.layout import Samples, find_samples
from drone_seg.data.splitting.assignment import (
    official_assignment,
    read_split_file,
    sequence_of,
    stratified_assignment,
    write_split_file,
)
from drone_seg.data.splitting.checks import (
    check_labelled_subsets,
    check_not_empty,
    check_val_classes,
)
from drone_seg.data.splitting.split_report import split_report
from drone_seg.data.statistics import DatasetStats, dataset_statistics
from drone_seg.errors import ConfigError, DataError
from drone_seg.synthetic import generate_dataset

log = logging.getLogger(__name__)


def dataset_folder(data: Mapping[str, Any]) -> str | None:
    """The folder a `data` config reads: `root`, else its synthetic set's `dir`; None if neither."""
    if data["root"] is not None:
        return str(data["root"])
    return str(data["synthetic"]["dir"]) if data["synthetic"] else None


class DataSource:
    """Image/mask pairs under `root`, checked and split (seeded, the same on every DDP rank).

    With `root=None` the built-in synthetic set in `synthetic["dir"]` is used, generated there if
    missing; a `root` the user names is only ever read (the statistics cache goes to `cache_dir`).
    The arguments are the keys of `conf/data/` of the same names, whose defaults live there.
    """

    def __init__(
        self,
        root: str | None,
        synthetic: Mapping[str, Any] | None,
        images_dir: str,
        masks_dir: str,
        ids_file: str | None,
        split: str,
        split_file: str | None,
        official_split: Mapping[str, str] | None,
        val_fraction: float,
        split_seed: int,
        cache_dir: str | None,
    ) -> None:
        folder = dataset_folder({"root": root, "synthetic": synthetic})
        if folder is None:
            raise DataError("data.root is null and data.synthetic is empty: set data.root=DIR")
        self.root = Path(folder)
        self.synthetic = dict(synthetic) if root is None else None
        self.images_dir = images_dir
        self.masks_dir = masks_dir
        self.ids_file = ids_file
        self.split = split
        self.split_file = Path(split_file) if split_file else None
        self.official_split = dict(official_split) if official_split else None
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.samples: Samples | None = None
        self.stats: DatasetStats | None = None
        self.subset = np.zeros(0, dtype=np.int64)
        self.split_report = ""

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> DataSource:
        """The source described by a `data` config (its loader keys are not read)."""
        keys = inspect.signature(cls).parameters
        return cls(**{key: data[key] for key in keys if key in data})

    def prepare(self) -> None:
        """Generate the synthetic set in its own default location when it is missing."""
        if self.synthetic is not None and not self.root.exists():
            spec = {k: v for k, v in self.synthetic.items() if k != "dir"}
            log.info("Generating the synthetic drone dataset in %s", self.root)
            generate_dataset(self.root, **spec)
        if not self.root.is_dir():
            raise DataError(
                f"data.root={self.root} does not exist: download AeroScapes there "
                "(python -m drone_seg.prepare) or point data.root at your dataset"
            )

    def scan(self) -> tuple[Samples, DatasetStats]:
        """Find the image/mask pairs, gather their statistics (cached), check their sizes and that
        something is labelled."""
        if self.samples is None or self.stats is None:
            samples = find_samples(self.root, self.images_dir, self.masks_dir, self.ids_file)
            stats = dataset_statistics(samples, self.cache_dir)
            check_sizes(samples, stats)
            check_labelled(samples, stats)
            log_encodings(stats)
            log_orientations(samples, stats)
            self.samples, self.stats = samples, stats
        return self.samples, self.stats

    def make_split(self, check_classes: bool = True) -> None:
        """Split the images and make the report (`split_report`); stop if val is empty or holds
        no labelled pixel; with `check_classes`, also if train is, or val lacks a class that the
        split could have given it."""
        samples, stats = self.scan()
        subset, source = self.assign(samples.ids, stats)
        codes = (TRAIN, VAL) if check_classes else (VAL,)
        check_not_empty(subset, codes, source)
        check_labelled_subsets(stats.counts, subset, codes, source)
        if check_classes:
            grouped = self.split == "sequence" and self.split_file is None
            units = np.array([sequence_of(i) if grouped else i for i in samples.ids])
            check_val_classes(stats.counts, subset, units, source, self.fix_hint())
        self.subset = subset
        self.split_report = split_report(stats.counts, subset, f"Split of {self.root}: {source}")

    def fix_hint(self) -> str:
        """What to change when the split leaves a class out of val."""
        if self.split_file is not None:
            return "edit that file"
        if self.split == "official":
            return "use data.split=presence, pixels or sequence"
        return "try another data.split_seed, or data.split=presence"

    def assign(self, ids: list[str], stats: DatasetStats) -> tuple[np.ndarray, str]:
        """The subset of each image (0 train, 1 val, -1 left out) and how it was chosen."""
        if self.split_file is not None:
            subset = read_split_file(self.split_file, ids)
            source = f"data.split_file={self.split_file}"
        elif self.split == "official":
            if self.official_split is None:
                raise ConfigError(
                    "data.split=official: this layout has no official split (data.official_split "
                    "is null); use data.split=presence, pixels or sequence"
                )
            lists = (self.root / self.official_split[key] for key in ("train", "val"))
            subset, source = official_assignment(ids, *lists), "data.split=official"
        else:
            subset = stratified_assignment(
                self.split, ids, stats.counts, self.val_fraction, self.split_seed
            )
            source = (
                f"data.split={self.split}, data.val_fraction={self.val_fraction}, "
                f"data.split_seed={self.split_seed}"
            )
        left_out = int((subset < 0).sum())
        if left_out:
            log.warning("%s leaves %d of %d images out of both subsets", source, left_out, len(ids))
        return subset, source

    def part(self, code: int) -> Samples:
        """The train (0) or val (1) samples of the split, in dataset order."""
        if self.samples is None or not self.subset.size:
            raise RuntimeError("make_split() first")
        return self.samples.subset(np.flatnonzero(self.subset == code).tolist())

    def write_split(self, path: Path) -> Path:
        """Write the split as CSV `image,subset` at `path` and its report beside it, as
        `<stem>_report.md`; return the report's path."""
        if self.samples is None or not self.subset.size:
            raise RuntimeError("make_split() first")
        write_split_file(path, self.samples.ids, self.subset)
        report = path.with_name(f"{path.stem}_report.md")
        report.write_text(self.split_report)
        return report
