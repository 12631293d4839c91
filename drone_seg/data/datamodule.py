"""DroneDataModule: owns where the data is, the train/val split, the augmentations, the loaders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Sampler

from drone_seg.data.aeroscapes import AeroScapesDataset, Transform, list_ids, mask_path
from drone_seg.data.samplers import SeededTrainSampler, UnpaddedEvalSampler
from drone_seg.data.split import stratified_split
from drone_seg.data.statistics import class_pixel_counts
from drone_seg.data.synthetic import generate_dataset
from drone_seg.errors import DataError

log = logging.getLogger(__name__)


class DroneDataModule(L.LightningDataModule):
    """AeroScapes-layout data split 80/20, stratified on class presence, seeded.

    With `root=None` the module uses the built-in synthetic set in `synthetic["dir"]`, generating it
    there if missing; a `root` the user names is only ever read.
    """

    def __init__(
        self,
        root: str | None,
        synthetic: dict[str, Any] | None = None,
        val_fraction: float = 0.2,
        seed: int = 42,
        split_seed: int = 42,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool = False,
        train_transform: Transform | None = None,
        val_transform: Transform | None = None,
    ) -> None:
        super().__init__()
        if root is None and not synthetic:
            raise DataError("data.root is null and data.synthetic is empty: set data.root=DIR")
        self.root = Path(root) if root is not None else Path(synthetic["dir"])
        self.synthetic = dict(synthetic) if root is None else None
        self.val_fraction = val_fraction
        self.seed = seed
        self.split_seed = split_seed
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.train_transform = train_transform
        self.val_transform = val_transform
        self.train_ids: list[str] = []
        self.val_ids: list[str] = []

    def prepare_data(self) -> None:
        """Generate the synthetic set in its own default location when it is missing."""
        if self.synthetic is not None and not self.root.exists():
            spec = {k: v for k, v in self.synthetic.items() if k != "dir"}
            log.info("Generating the synthetic drone dataset in %s", self.root)
            generate_dataset(self.root, **spec)
        if not self.root.is_dir():
            raise DataError(
                f"data.root={self.root} does not exist: download AeroScapes there "
                "(see README) or point data.root at your dataset"
            )

    def setup(self, stage: str | None = None) -> None:
        """Split the images (deterministically, so every DDP rank agrees) and build the datasets."""
        if self.train_ids:
            return
        ids = list_ids(self.root)
        counts = class_pixel_counts([mask_path(self.root, i) for i in ids])
        is_val = stratified_split(counts > 0, self.val_fraction, self.split_seed)
        self.train_ids = [i for i, v in zip(ids, is_val, strict=True) if not v]
        self.val_ids = [i for i, v in zip(ids, is_val, strict=True) if v]
        self.class_counts = counts
        log.info(
            "Split %d images: %d train, %d val", len(ids), len(self.train_ids), len(self.val_ids)
        )
        self.train_set = AeroScapesDataset(self.root, self.train_ids, self.train_transform)
        self.val_set = AeroScapesDataset(self.root, self.val_ids, self.val_transform)

    def split_table(self) -> list[tuple[str, str]]:
        """Return (image id, subset) rows, train first, as written to `split.csv`."""
        return [(i, "train") for i in self.train_ids] + [(i, "val") for i in self.val_ids]

    def train_dataloader(self) -> DataLoader:
        sampler = SeededTrainSampler(self.train_set, seed=self.seed)
        drop_last = len(sampler) > self.batch_size
        return self._loader(self.train_set, self.batch_size, sampler, drop_last)

    def val_dataloader(self) -> DataLoader:
        sampler = UnpaddedEvalSampler(self.val_set)
        return self._loader(self.val_set, self.val_batch_size, sampler, drop_last=False)

    def _loader(
        self, dataset: AeroScapesDataset, batch_size: int, sampler: Sampler, drop_last: bool
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
