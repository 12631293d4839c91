"""Segment images with a loaded model: whole or tiled, with optional test-time augmentation.

`Predictor` runs a model on whole resized images or on overlapping tiles blended with a smooth
window, optionally with test-time augmentation, and averages softmax probabilities (not logits)
over tiles, flips and scales.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from drone_seg.errors import ConfigError
from drone_seg.inference.loading import LoadedModel

Item = TypeVar("Item")
Box = tuple[int, int, int, int]  # top, left, bottom, right


@dataclass(frozen=True)
class Tiling:
    """Cut the image, first rescaled by `scale`, into `size` (height, width) tiles that overlap
    by `overlap` pixels; the last tile of a row or column is flush with the image edge."""

    size: tuple[int, int]
    overlap: int
    scale: float = 1.0

    def __post_init__(self) -> None:
        if min(self.size) < 1 or self.scale <= 0:
            raise ConfigError(f"tile.size={list(self.size)} and tile.scale must be positive")
        if not 0 <= self.overlap < min(self.size):
            raise ConfigError(
                f"tile.overlap={self.overlap} must be >= 0 and smaller than tile.size "
                f"{list(self.size)}"
            )


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of tiles covering [0, length) exactly, `tile - overlap` apart, the last flush."""
    if length <= tile:
        return [0]
    return [*range(0, length - tile, tile - overlap), length - tile]


def blend_window(height: int, width: int, device: torch.device) -> torch.Tensor:
    """A 2-D Hann window sampled at pixel centres: near 1 mid-tile, small but positive at the
    edges, so tiles fade into each other and every covered pixel has a non-zero weight."""

    def ramp(length: int) -> torch.Tensor:
        centres = torch.arange(length, device=device, dtype=torch.float32) + 0.5
        return torch.sin(math.pi * centres / length) ** 2

    return ramp(height)[:, None] * ramp(width)[None, :]


@dataclass(frozen=True)
class _View:
    """One model input cut from an image: which scale, which box of the rescaled image, flipped."""

    scale_index: int
    box: Box
    flip: bool

    @property
    def shape(self) -> tuple[int, int]:
        top, left, bottom, right = self.box
        return bottom - top, right - left


@dataclass
class _Pending(Generic[Item]):
    """An image whose views are being run: its rescaled copies and the weighted sums so far."""

    item: Item
    image: np.ndarray
    tensor: torch.Tensor
    views: list[_View]
    remaining: int = 0
    scaled: dict[int, torch.Tensor] = field(default_factory=dict)
    sums: dict[int, torch.Tensor] = field(default_factory=dict)
    weights: dict[int, torch.Tensor] = field(default_factory=dict)

    def add(self, view: _View, probabilities: torch.Tensor, window: torch.Tensor) -> None:
        """Add a view's (unflipped) probabilities (C, h, w), weighted by `window`, to its box."""
        index = view.scale_index
        if index not in self.sums:
            height, width = self.scaled[index].shape[2:]
            self.sums[index] = probabilities.new_zeros((len(probabilities), height, width))
            self.weights[index] = probabilities.new_zeros((height, width))
        top, left, bottom, right = view.box
        self.sums[index][:, top:bottom, left:right] += probabilities * window
        self.weights[index][top:bottom, left:right] += window
        self.remaining -= 1


class Predictor:
    """Segments RGB uint8 images with a model: whole or tiled, with optional TTA, in batches.

    Whole images are resized to `size` (height, width); with `tiling` they are rescaled by
    `tiling.scale` and cut in tiles. Each TTA scale multiplies that working size, `hflip` adds
    mirrored views. Softmax probabilities are blended (tiles weighted by `blend_window`),
    upsampled to the input's full resolution, averaged over scales and flips, then argmaxed.
    """

    def __init__(
        self,
        model: LoadedModel,
        size: tuple[int, int] | None = None,
        tiling: Tiling | None = None,
        hflip: bool = False,
        scales: Sequence[float] = (1.0,),
        batch_size: int = 8,
    ) -> None:
        if tiling is None and size is None:
            raise ConfigError("predicting whole images needs a size: set size=[height,width]")
        if not scales or min(scales) <= 0:
            raise ConfigError(f"tta.scales={list(scales)} must be a non-empty list of positives")
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be at least 1")
        self.model = model
        self.size = size
        self.tiling = tiling
        self.flips = (False, True) if hflip else (False,)
        self.scales = tuple(scales)
        self.batch_size = batch_size

    def predict(
        self, items: Iterable[tuple[Item, np.ndarray]]
    ) -> Iterator[tuple[Item, np.ndarray, np.ndarray]]:
        """Yield (item, image, class-id mask) for each (item, RGB image (H, W, 3)), in order.

        Views of consecutive images share batches when their shapes match (whole images without
        TTA scales always do), so a folder of small images runs `batch_size` at a time.
        """
        pending: deque[_Pending[Item]] = deque()
        batch: list[tuple[_Pending[Item], _View]] = []
        for item, image in items:
            state = self._start(item, image)
            pending.append(state)
            for view in state.views:
                if batch and (len(batch) == self.batch_size or view.shape != batch[0][1].shape):
                    self._run(batch)
                    batch = []
                    yield from self._finished(pending)
                batch.append((state, view))
        if batch:
            self._run(batch)
        yield from self._finished(pending)

    def _start(self, item: Item, image: np.ndarray) -> _Pending[Item]:
        tensor = torch.from_numpy(np.ascontiguousarray(image)).to(self.model.device)
        tensor = tensor.permute(2, 0, 1)[None].float()
        views = self._views(image.shape[0], image.shape[1])
        return _Pending(item, image, tensor, views, remaining=len(views))

    def _views(self, height: int, width: int) -> list[_View]:
        views = []
        for index in range(len(self.scales)):
            scaled_height, scaled_width = self._scaled_size(index, height, width)
            if self.tiling is None:
                boxes = [(0, 0, scaled_height, scaled_width)]
            else:
                tile_height = min(self.tiling.size[0], scaled_height)
                tile_width = min(self.tiling.size[1], scaled_width)
                boxes = [
                    (top, left, top + tile_height, left + tile_width)
                    for top in tile_starts(scaled_height, tile_height, self.tiling.overlap)
                    for left in tile_starts(scaled_width, tile_width, self.tiling.overlap)
                ]
            views += [_View(index, box, flip) for box in boxes for flip in self.flips]
        return views

    def _scaled_size(self, index: int, height: int, width: int) -> tuple[int, int]:
        """The (height, width) the image is resized to before cutting views, at TTA scale index."""
        if self.tiling is None:
            (height, width), factor = self.size, self.scales[index]
        else:
            factor = self.tiling.scale * self.scales[index]
        return max(1, round(height * factor)), max(1, round(width * factor))

    @torch.inference_mode()
    def _run(self, batch: list[tuple[_Pending[Item], _View]]) -> None:
        crops = torch.cat([self._crop(state, view) for state, view in batch])
        probabilities = self.model.run(crops).float().softmax(dim=1)
        window = blend_window(*batch[0][1].shape, device=probabilities.device)
        for (state, view), probability in zip(batch, probabilities, strict=True):
            state.add(view, probability.flip(-1) if view.flip else probability, window)

    def _crop(self, state: _Pending[Item], view: _View) -> torch.Tensor:
        if view.scale_index not in state.scaled:
            size = self._scaled_size(view.scale_index, *state.tensor.shape[2:])
            state.scaled[view.scale_index] = _resize(state.tensor, size)
        top, left, bottom, right = view.box
        crop = state.scaled[view.scale_index][:, :, top:bottom, left:right]
        return crop.flip(-1) if view.flip else crop

    def _finished(
        self, pending: deque[_Pending[Item]]
    ) -> Iterator[tuple[Item, np.ndarray, np.ndarray]]:
        while pending and pending[0].remaining == 0:
            state = pending.popleft()
            yield state.item, state.image, self._mask(state)

    @torch.inference_mode()
    def _mask(self, state: _Pending[Item]) -> np.ndarray:
        full_size = (state.tensor.shape[2], state.tensor.shape[3])
        total = sum(
            _resize((sums / state.weights[index])[None], full_size)
            for index, sums in state.sums.items()
        )
        return total[0].argmax(dim=0).to(torch.uint8).cpu().numpy()


def _resize(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to `size`, as cv2.INTER_LINEAR does (the training resize)."""
    if (batch.shape[2], batch.shape[3]) == size:
        return batch
    return F.interpolate(batch, size=size, mode="bilinear", align_corners=False)
