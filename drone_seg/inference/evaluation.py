"""Eval's protocol: val images predicted as predict does them, scored at native mask resolution.

The literature scores AeroScapes against the masks as stored (1280x720), with optional sliding-
window and multi-scale + flip test-time augmentation; the validation loop instead scores images
and masks resized to training's val size. Here every val image goes through the `Predictor`
(whole, tiled, TTA: predict's code and config shapes), its class map comes back at the image's own
resolution, and one pixel-count confusion matrix is summed over the whole set against the mask as
stored (ignore-label pixels skipped): the scores come from that matrix, never from per-image or
per-batch averages. Rows: single-scale (the configured input, one scale, no flip) and, when `tta`
asks for more views, TTA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from drone_seg.classes import CLASS_NAMES, SMALL_CLASSES
from drone_seg.inference.artifacts import LoadedModel
from drone_seg.inference.predictor import Predictor, Tiling, size_pair
from drone_seg.models.metrics import SegmentationScores, confusion_scores

NATIVE = "native"  # protocol.size: the network sees each image as stored
Sample = tuple[np.ndarray, np.ndarray]  # RGB image (H, W, 3), class-id mask (H, W), as stored


@dataclass(frozen=True)
class ProtocolRow:
    """One way of predicting the val set: its key prefix, its heading, how it predicts."""

    prefix: str  # key prefix in protocol.json: "single" or "tta"
    heading: str  # column heading in the tables
    views: str  # the views averaged per image, in words
    predictor: Predictor


@dataclass(frozen=True)
class ProtocolScores:
    """A row's confusion matrix (rows: truth, columns: prediction, pixel counts at native mask
    resolution, summed over `images` images) and the scores it gives."""

    row: ProtocolRow
    confusion: torch.Tensor
    images: int

    @property
    def pixels(self) -> int:
        """Labelled (not ignore-label) mask pixels scored."""
        return int(self.confusion.sum())

    def metrics(self) -> dict[str, float]:
        """Per-class IoU, Dice, precision, recall; means over all, foreground and small classes;
        the counts of images and pixels scored; all keys prefixed `{row.prefix}/`."""
        prefix = self.row.prefix
        scores = confusion_scores(self.confusion, prefix, CLASS_NAMES, SMALL_CLASSES)
        return {**scores, f"{prefix}/images": self.images, f"{prefix}/pixels": self.pixels}


def tta_requested(protocol: DictConfig) -> bool:
    """Whether `protocol.tta` asks for more than the single-scale view."""
    return bool(protocol.tta.hflip) or [float(s) for s in protocol.tta.scales] != [1.0]


def input_size(protocol: DictConfig, model: LoadedModel) -> tuple[int, int] | None:
    """The (height, width) whole images are resized to: None (as stored) for `size: native`,
    `protocol.size` when given, else the size the checkpoint was validated at."""
    if protocol.size == NATIVE:
        return None
    if protocol.size is not None:
        return size_pair(protocol.size)
    return model.size


def describe_input(protocol: DictConfig, size: tuple[int, int] | None) -> str:
    """What the network sees, in words, for the report."""
    if protocol.tile.enabled:
        height, width = size_pair(protocol.tile.size)
        return (
            f"sliding window: {height}x{width} tiles overlapping {protocol.tile.overlap} px "
            f"(Hann-blended) of each image rescaled by {float(protocol.tile.scale):g}"
        )
    if size is None:
        return "whole images as stored (native resolution)"
    source = "protocol.size" if protocol.size is not None else "the checkpoint's validation size"
    return f"whole images resized to {size[0]}x{size[1]} ({source})"


def protocol_rows(protocol: DictConfig, model: LoadedModel) -> list[ProtocolRow]:
    """The single-scale row, then the TTA row when `protocol.tta` asks for it."""
    tiling = Tiling.from_config(protocol.tile) if protocol.tile.enabled else None
    size = input_size(protocol, model)
    batch_size = int(protocol.batch_size)
    single = Predictor(model, size=size, tiling=tiling, batch_size=batch_size)
    rows = [ProtocolRow("single", "single-scale", "scale 1.0, no flip", single)]
    if tta_requested(protocol):
        scales = [float(scale) for scale in protocol.tta.scales]
        hflip = bool(protocol.tta.hflip)
        flip = "each also flipped" if hflip else "no flip"
        views = f"scales {', '.join(f'{s:g}' for s in scales)}, {flip}"
        tta = Predictor(model, size, tiling, hflip=hflip, scales=scales, batch_size=batch_size)
        rows.append(ProtocolRow("tta", "TTA", views, tta))
    return rows


def native_confusion(
    predictor: Predictor, samples: Iterable[Sample], num_classes: int, ignore_index: int
) -> tuple[torch.Tensor, int]:
    """The confusion matrix of `predictor`'s class maps against the masks of `samples` at the
    masks' own resolution, summed over all of them, and how many samples there were."""
    scores = SegmentationScores(num_classes, ignore_index)
    count = 0
    for target, _, predicted in predictor.predict((mask, image) for image, mask in samples):
        scores.update(
            torch.from_numpy(predicted.astype(np.int64)), torch.from_numpy(target.astype(np.int64))
        )
        count += 1
    return scores.compute(), count


def score_rows(
    rows: list[ProtocolRow],
    samples: Callable[[], Iterator[Sample]],
    num_classes: int,
    ignore_index: int,
    total: int | None = None,
) -> list[ProtocolScores]:
    """Score each row over a fresh pass of `samples()` (`total` of them, for the progress bar)."""
    results = []
    for row in rows:
        bar = tqdm(samples(), total=total, unit="image", desc=f"eval {row.heading}", disable=None)
        with bar:
            confusion, images = native_confusion(row.predictor, bar, num_classes, ignore_index)
        results.append(ProtocolScores(row, confusion, images))
    return results
