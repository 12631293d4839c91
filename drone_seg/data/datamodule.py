"""DroneDataModule: the checked, split data of a `DataSource`, augmented and served as loaders."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader, Sampler

from drone_seg.aeroscapes_layout import TRAIN, VAL
from drone_seg.data.copy_paste import CopyPaste
from drone_seg.data.dataset import SegmentationDataset, Transform
from drone_seg.data.samplers import RareClassSampler, SeededTrainSampler, UnpaddedEvalSampler
from drone_seg.data.source import DataSource

log = logging.getLogger(__name__)


class DroneDataModule(L.LightningDataModule):
    """Image/mask pairs found under `root`, checked, split (seeded) and served as loaders.

    The keys where the images are and how they are split (root, synthetic, ... cache_dir) go to
    `DataSource` as `source`: with `root=None` the synthetic set is generated in its own folder;
    a `root` the user names is only ever read. `copy_paste` is `augment.copy_paste` (see
    `copy_paste.py`), built over the training images' class counts. Every argument is a key of
    `conf/data/`, which holds the defaults (none are repeated here).
    """

    def __init__(
        self,
        seed: int,
        batch_size: int,
        val_batch_size: int | None,
        num_workers: int,
        pin_memory: bool,
        prefetch_factor: int,
        train_transform: Transform | None,
        val_transform: Transform | None,
        sampler: str,
        rare_class_temperature: float,
        copy_paste: Mapping[str, Any] | None,
        **source: Any,
    ) -> None:
        super().__init__()
        self.source = DataSource(**source)
        self.root = self.source.root
        self.seed = seed
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        self.train_transform = train_transform
        self.val_transform = val_transform
        self.sampler = sampler
        self.rare_class_temperature = rare_class_temperature
        self.copy_paste = copy_paste
        self.train_ids: list[str] = []
        self.val_ids: list[str] = []
        self.train_epoch = 0  # the epoch the training sampler draws first (set on resume)

    def prepare_data(self) -> None:
        """Generate the synthetic set in its own default location when it is missing."""
        self.source.prepare()

    def setup(self, stage: str | None = None) -> None:
        """Find, check and split the data, then build the datasets: any problem stops the run
        here, before the first step. Validation alone does not require val to hold every class."""
        if self.source.subset.size:
            return
        with reported_here(rank_zero_only.rank == 0):
            self.source.make_split(check_classes=stage in (None, "fit"))
            log.info("%s", self.source.split_report)
        train, val = self.source.part(TRAIN), self.source.part(VAL)
        self.train_ids, self.val_ids = train.ids, val.ids
        counts = self.source.stats.counts[self.source.subset == TRAIN]
        paste = CopyPaste.from_config(self.copy_paste, counts)
        self.train_set = SegmentationDataset(self.root, train, self.train_transform, paste)
        self.val_set = SegmentationDataset(self.root, val, self.val_transform)

    @property
    def split_report(self) -> str:
        """The split report (markdown), once set up."""
        return self.source.split_report

    def write_split(self, path: Path) -> Path:
        """Write `split.csv`-style `image,subset` at `path` and `<stem>_report.md` beside it."""
        return self.source.write_split(path)

    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint: the epoch whose order a run resumed from it draws first
        (the next one once this epoch's training batches are done, as Lightning resumes)."""
        trainer = self.trainer
        if trainer is None:
            return {"train_epoch": self.train_epoch}
        batches = trainer.fit_loop.epoch_loop.batch_progress
        trained = batches.is_last_batch or batches.current.ready == trainer.num_training_batches
        return {"train_epoch": trainer.current_epoch + int(trained)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_epoch = int(state_dict.get("train_epoch", 0))

    def train_dataloader(self) -> DataLoader:
        """The training loader, its sampler already at the epoch it draws first. Lightning builds
        the loader (and its workers prefetch indices) before it restores and sets the epoch of a
        resumed run, which would replay epoch 0's order (Lightning issue #21938): train gives
        the checkpoint's `state_dict` to `load_state_dict` before fitting."""
        if self.sampler == "rare_class":
            counts = self.source.stats.counts[self.source.subset == TRAIN]
            sampler = RareClassSampler(
                self.train_set, counts, seed=self.seed, temperature=self.rare_class_temperature
            )
        else:
            sampler = SeededTrainSampler(self.train_set, seed=self.seed)
        current = self.trainer.current_epoch if self.trainer is not None else 0
        sampler.set_epoch(max(self.train_epoch, current))
        drop_last = len(sampler) > self.batch_size
        return self._loader(self.train_set, self.batch_size, sampler, drop_last)

    def val_dataloader(self) -> DataLoader:
        sampler = UnpaddedEvalSampler(self.val_set)
        return self._loader(self.val_set, self.val_batch_size, sampler, drop_last=False)

    def _loader(
        self, dataset: SegmentationDataset, batch_size: int, sampler: Sampler, drop_last: bool
    ) -> DataLoader:
        return data_loader(
            dataset, batch_size, sampler, drop_last, self.num_workers, self.pin_memory,
            self.prefetch_factor,
        )  # fmt: skip


@contextmanager
def reported_here(report: bool) -> Iterator[None]:
    """Let the data's log lines through only where `report` (global rank 0, known from the
    launcher's environment before the trainer exists): every DDP rank scans the same files, so
    the others would print the same split report and notes again. Problems still stop every
    rank, as errors."""
    logger = logging.getLogger("drone_seg.data")
    level = logger.level
    if not report:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def data_loader(
    dataset: SegmentationDataset,
    batch_size: int,
    sampler: Sampler,
    drop_last: bool,
    num_workers: int,
    pin_memory: bool,
    prefetch_factor: int,
) -> DataLoader:
    """A loader as training uses it: workers that stay alive across epochs and keep
    `prefetch_factor` batches each in flight while the model steps."""
    workers = num_workers > 0
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=workers,
        prefetch_factor=prefetch_factor if workers else None,
    )
