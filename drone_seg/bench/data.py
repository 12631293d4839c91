"""Data suite: images/s per worker of decoding, of each `augment=` config with collate, and of the
whole loader, on full-size files on disk (the synthetic set at 1280x720 unless `data.root=`)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision.io
from hydra.utils import instantiate
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import DataLoader, default_collate

from drone_seg.bench.config import train_config
from drone_seg.bench.results import Row
from drone_seg.bench.timing import throughput
from drone_seg.data.datamodule import data_loader
from drone_seg.data.dataset import SegmentationDataset
from drone_seg.data.io import read_image
from drone_seg.data.layout import Samples
from drone_seg.data.samplers import SeededTrainSampler
from drone_seg.data.source import DataSource

AUGMENTS: tuple[str, ...] = ("none", "light", "baseline")


def _decode_pil(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _decode_torchvision(path: Path) -> torch.Tensor:
    data = torchvision.io.read_file(str(path))
    return torchvision.io.decode_image(data, mode=torchvision.io.ImageReadMode.RGB)


DECODERS: dict[str, Callable[[Path], object]] = {
    "opencv": read_image,  # what the dataset uses
    "pil": _decode_pil,
    "torchvision": _decode_torchvision,
}


@dataclass(frozen=True)
class SyntheticSize:
    """The synthetic set the data suite renders when no data root is given."""

    height: int
    width: int
    num_images: int


def resize_synthetic(data: DictConfig, size: SyntheticSize) -> None:
    """Render the synthetic set of `data` at `size`, if `data` reads that set: with a data root
    (or a data config without a synthetic set, such as data=aeroscapes) nothing changes."""
    if data.root is None and data.synthetic:
        data.synthetic.merge_with(asdict(size))


def bench_data(
    overrides: Sequence[str],
    synthetic: SyntheticSize,
    augments: Sequence[str],
    crop_size: tuple[int, int],
    batch_size: int,
    batches: int,
    warmup: int,
    repeats: int,
) -> list[Row]:
    """One row per decoder, per augment config (decode + augment + collate) and for the loader.

    The files are those of `data=` with `overrides`; the built-in synthetic set is rendered at
    `synthetic`'s size. Per-worker figures run in this process on one thread for torch and
    OpenCV, as a loader worker would; the last row is the training loader of `data=` with its
    `data.num_workers`.
    """
    cfg = train_config(overrides)
    resize_synthetic(cfg.data, synthetic)
    samples = _samples(cfg.data)
    count = batch_size * batches
    paths = itertools.cycle(samples.image_paths)
    rows: list[Row] = []
    with _one_thread():
        for name, decode in DECODERS.items():

            def decode_images(decode: Callable[[Path], object] = decode) -> int:
                for _ in range(count):
                    decode(next(paths))
                return count

            rate = throughput(decode_images, warmup, repeats)
            rows.append(
                {"suite": "data", "name": f"decode image ({name})", "img/s": rate, "workers": 1}
            )
        for augment in augments:
            dataset = _dataset(samples, overrides, augment, crop_size)
            run = _collated_batches(dataset, batch_size, batches)
            rate = throughput(run, warmup, repeats)
            rows.append({"suite": "data", "name": augment, "img/s": rate, "workers": 1})
    if int(cfg.data.num_workers) > 0:
        dataset = _dataset(samples, overrides, augments[-1], crop_size)
        rows.append(_loader_row(cfg, dataset, augments[-1], batch_size, batches))
    return rows


def _samples(data_config: DictConfig) -> Samples:
    source = DataSource.from_config(data_config)
    source.prepare()
    return source.scan()[0]


def _dataset(
    samples: Samples, overrides: Sequence[str], augment: str, crop_size: tuple[int, int]
) -> SegmentationDataset:
    crop = f"augment.crop_size=[{crop_size[0]},{crop_size[1]}]"
    cfg = train_config([*overrides, f"augment={augment}", crop])
    return SegmentationDataset(Path("."), samples, instantiate(cfg.augment.train))


def _collated_batches(
    dataset: SegmentationDataset, batch_size: int, batches: int
) -> Callable[[], int]:
    """Read, augment and collate `batches` batches, each sample with a new augmentation seed."""
    draws = itertools.count()

    def run() -> int:
        for _ in range(batches):
            keys = [(draw % len(dataset), draw) for draw in itertools.islice(draws, batch_size)]
            default_collate([dataset[key] for key in keys])
        return batch_size * batches

    return run


def _loader_row(
    cfg: DictConfig, dataset: SegmentationDataset, augment: str, batch_size: int, batches: int
) -> Row:
    """Images/s of the training loader as `data=` configures it (workers, prefetch), epoch after
    epoch, from its second batch on: worker start-up is not counted."""
    data = cfg.data
    workers = int(data.num_workers)
    sampler = SeededTrainSampler(dataset, seed=0)
    loader = data_loader(
        dataset,
        batch_size,
        sampler,
        True,
        workers,
        bool(data.pin_memory),
        int(data.prefetch_factor),
    )
    batches_forever = (batch for epoch in itertools.count() for batch in _epoch(loader, epoch))
    next(batches_forever)
    start = time.perf_counter()
    seen = sum(batch["image"].shape[0] for batch in itertools.islice(batches_forever, batches))
    rate = seen / (time.perf_counter() - start)
    return {
        "suite": "data",
        "name": f"{augment} loader",
        "img/s": rate,
        "workers": workers,
    }


def _epoch(loader: DataLoader, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
    loader.sampler.set_epoch(epoch)
    return iter(loader)


class _one_thread:
    """Torch and OpenCV on one thread inside the block, as in a loader worker."""

    def __enter__(self) -> None:
        self.saved = torch.get_num_threads(), cv2.getNumThreads()
        torch.set_num_threads(1)
        cv2.setNumThreads(1)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.saved[0])
        cv2.setNumThreads(self.saved[1])
