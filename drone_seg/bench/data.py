"""Data suite: images/s per worker of decoding, of each `augment=` config with collate, and of the
whole loader, on full-size files on disk (the synthetic set at 1280x720 unless `data.root=`).

With `baseline` among the augment configs, a row measures the seed's way beside it: the same
list with its crop moved last (the heavy operations on the full frame, the whole image decoded),
and the baseline row gives its rate over that one's, both timed in turns in the same loop."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision.io
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch.utils.data import DataLoader, default_collate

from drone_seg.bench.config import train_config
from drone_seg.bench.results import Row
from drone_seg.bench.timing import throughput
from drone_seg.data.datamodule import data_loader
from drone_seg.data.dataset import SegmentationDataset
from drone_seg.data.io import EncodedImage, read_encoded, read_image
from drone_seg.data.layout import Samples
from drone_seg.data.samplers import SeededTrainSampler
from drone_seg.data.source import DataSource

AUGMENTS: tuple[str, ...] = ("none", "light", "baseline")
SEED_WAY = "baseline"  # the augment config measured beside its crop-last twin
SEED_WAY_ROW = "baseline, crop last (the seed's way)"
RATIO = "x seed's way"  # the column of the baseline row: its rate over the seed's way's


def _decode_opencv(path: Path) -> np.ndarray:
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    return cv2.imdecode(np.fromfile(path, dtype=np.uint8), flags)


def _decode_half(path: Path) -> np.ndarray:
    image = read_encoded(path)
    return image.decode(2) if isinstance(image, EncodedImage) else image


def _decode_pil(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _decode_torchvision(path: Path) -> torch.Tensor:
    data = torchvision.io.read_file(str(path))
    return torchvision.io.decode_image(data, mode=torchvision.io.ImageReadMode.RGB)


DECODERS: dict[str, Callable[[Path], object]] = {
    "opencv": _decode_opencv,
    "pil": _decode_pil,
    "torchvision": _decode_torchvision,
    "simplejpeg": read_image,  # what the dataset uses
    "simplejpeg, 1/2 scale": _decode_half,  # what a crop shrunk 2 to 4 times decodes
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
        runs = {
            augment: _collated_batches(
                _dataset(samples, overrides, augment, crop_size), batch_size, batches
            )
            for augment in augments
        }
        if SEED_WAY in augments:
            seed_way = _dataset(samples, overrides, SEED_WAY, crop_size, crop_first=False)
            runs[SEED_WAY_ROW] = _collated_batches(seed_way, batch_size, batches)
        rates = _rates_in_turns(runs, warmup, repeats)
        for name, rate in rates.items():
            row: Row = {"suite": "data", "name": name, "img/s": statistics.median(rate)}
            rows.append({**row, "workers": 1})
            if name == SEED_WAY and SEED_WAY_ROW in rates:
                ratios = [a / b for a, b in zip(rate, rates[SEED_WAY_ROW], strict=True)]
                rows[-1][RATIO] = statistics.median(ratios)
    if int(cfg.data.num_workers) > 0:
        dataset = _dataset(samples, overrides, augments[-1], crop_size)
        rows.append(_loader_row(cfg, dataset, augments[-1], batch_size, batches))
    return rows


def _samples(data_config: DictConfig) -> Samples:
    source = DataSource.from_config(data_config)
    source.prepare()
    return source.scan()[0]


def _dataset(
    samples: Samples,
    overrides: Sequence[str],
    augment: str,
    crop_size: tuple[int, int],
    crop_first: bool = True,
) -> SegmentationDataset:
    """The training set of `augment=` (with `crop_first=False`, its crop moved last)."""
    crop = f"augment.crop_size=[{crop_size[0]},{crop_size[1]}]"
    cfg = train_config([*overrides, f"augment={augment}", crop])
    train = cfg.augment.train if crop_first else crop_last(cfg.augment.train)
    return SegmentationDataset(Path("."), samples, instantiate(train))


def crop_last(train: DictConfig) -> DictConfig:
    """The albumentations.Compose config `train` with its first transform, the crop, moved last:
    every other transform then works on the full frame, as the seed ran them."""
    plain = OmegaConf.to_container(train, resolve=True)
    first, *others = plain["transforms"]
    if "Crop" not in first["_target_"]:
        raise ValueError(f"the first transform of {SEED_WAY} is {first['_target_']}, not a crop")
    return OmegaConf.create({**plain, "transforms": [*others, first]})


def _rates_in_turns(
    runs: dict[str, Callable[[], int]], warmup: int, repeats: int
) -> dict[str, list[float]]:
    """Items/s of each run in each of `repeats` rounds, the runs taking turns within a round
    (so that a drift of the machine's speed falls on all of them), after `warmup` rounds."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(warmup + repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            items = run()
            if round_ >= warmup:
                rates[name].append(items / (time.perf_counter() - start))
    return rates


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
