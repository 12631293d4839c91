"""Segment images with a loaded model: whole or tiled, with optional test-time augmentation.

`Predictor` runs a model on whole resized images or on overlapping tiles blended with a smooth
window, optionally with test-time augmentation, and averages softmax probabilities (not logits)
over tiles, flips and scales. The class map is assembled band by band: only the rows that tiles
still write are held in float, so memory grows with the tile (times the image width), not with
the image; the image itself stays uint8 and is converted to float one tile or band at a time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Generic, TypeVar

import numpy as np
import torch

from drone_seg.inference.artifacts import LoadedModel
from drone_seg.inference.rows import LinearTaps, linear_taps, resize_rows

Item = TypeVar("Item")
Box = tuple[int, int, int, int]  # top, left, bottom, right
# Full-resolution pixels whose class is decided at a time (12 float classes per scale).
OUTPUT_CHUNK_PIXELS = 1 << 18


def size_pair(value: int | Sequence[int]) -> tuple[int, int]:
    """A (height, width) from a [height, width] config list or one int for a square."""
    if isinstance(value, int):
        return value, value
    height, width = value
    return int(height), int(width)


@dataclass(frozen=True)
class Tiling:
    """Cut the image, first rescaled by `scale`, into `size` (height, width) tiles that overlap
    by `overlap` pixels; the last tile of a row or column is flush with the image edge."""

    size: tuple[int, int]
    overlap: int
    scale: float = 1.0

    @classmethod
    def from_config(cls, tile: Mapping[str, Any]) -> Tiling:
        """The tiling a `tile` config node (size, overlap, scale) describes."""
        return cls(size_pair(tile["size"]), int(tile["overlap"]), float(tile["scale"]))


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


class _ScaleBlend:
    """Weighted probability sums of one rescaled copy of an image, held only for the rows tiles
    still write: once a tile row is complete, the rows no later tile covers are normalized and
    kept (in `finished`) until the full-resolution class map has used them."""

    def __init__(self, height: int, width: int, views: list[_View], capacity: int) -> None:
        self.height, self.width, self.capacity = height, width, capacity
        self.tops = sorted({view.box[0] for view in views})
        self.row_of = {top: row for row, top in enumerate(self.tops)}
        self.remaining = [0] * len(self.tops)
        for view in views:
            self.remaining[self.row_of[view.box[0]]] += 1
        self.next_row = 0  # the first tile row with views still to add
        self.start = 0  # the image row at index 0 of `sums` and `weights`
        self.sums: torch.Tensor | None = None
        self.weights: torch.Tensor | None = None
        self.finished: list[tuple[int, torch.Tensor]] = []  # (first row, probabilities)
        self.finished_until = 0

    def add(self, view: _View, probabilities: torch.Tensor, window: torch.Tensor) -> bool:
        """Add a view's (unflipped) probabilities (C, h, w), weighted by `window`, to its box;
        True when this finished rows. Views must come tile row by tile row, top to bottom."""
        if self.sums is None or self.weights is None:
            self.sums = probabilities.new_zeros((len(probabilities), self.capacity, self.width))
            self.weights = probabilities.new_zeros((self.capacity, self.width))
        top, left, bottom, right = view.box
        self.sums[:, top - self.start : bottom - self.start, left:right] += probabilities * window
        self.weights[top - self.start : bottom - self.start, left:right] += window
        self.remaining[self.row_of[top]] -= 1
        finished = False
        while self.next_row < len(self.tops) and self.remaining[self.next_row] == 0:
            self.next_row += 1
            last = self.next_row == len(self.tops)
            self._finish(self.height if last else self.tops[self.next_row])
            finished = True
        return finished

    def _finish(self, until: int) -> None:
        """Normalize rows [start, until), which no tile still to come covers, and hand them on."""
        assert self.sums is not None and self.weights is not None
        count = until - self.start
        self.finished.append((self.start, self.sums[:, :count] / self.weights[:count]))
        self.finished_until = self.start = until
        if until == self.height:
            self.sums = self.weights = None
            return
        kept = self.capacity - count
        self.sums[:, :kept] = self.sums[:, count:].clone()
        self.sums[:, kept:] = 0
        self.weights[:kept] = self.weights[count:].clone()
        self.weights[kept:] = 0

    def rows(self, indices: np.ndarray) -> torch.Tensor:
        """Finished probabilities (C, len(indices), width) at the sorted row `indices`."""
        low, high = int(indices[0]), int(indices[-1]) + 1
        parts = [
            probabilities[:, max(low - first, 0) : high - first]
            for first, probabilities in self.finished
            if first < high and first + probabilities.shape[1] > low
        ]
        block = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return block[:, torch.from_numpy(indices - low).to(block.device)]

    def release(self, first_needed: int) -> None:
        """Forget finished rows above `first_needed`, which the class map no longer reads."""
        self.finished = [
            (first, probabilities)
            for first, probabilities in self.finished
            if first + probabilities.shape[1] > first_needed
        ]


@dataclass
class _Pending(Generic[Item]):
    """An image whose views are being run: its blends per scale and its class map so far.

    `upsample[i]` are the taps from scale i's rows to full-resolution rows (None: same size);
    `bands[i]` is the rescaled image band (first row, last row, (1, 3, h, w)) tiles are cut from.
    """

    item: Item
    image: np.ndarray
    views: list[_View]
    blends: list[_ScaleBlend]
    upsample: list[LinearTaps | None]
    mask: np.ndarray
    remaining: int = 0
    emitted: int = 0  # rows of `mask` already decided
    bands: dict[int, tuple[int, int, torch.Tensor]] = field(default_factory=dict)


class Predictor:
    """Segments RGB uint8 images with a model: whole or tiled, with optional TTA, in batches.

    Whole images are resized to `size` (height, width), or kept as stored when `size` is None
    (native resolution, as eval's protocol can score them); with `tiling` they are rescaled by
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
        height, width = image.shape[:2]
        sizes = [self._scaled_size(index, height, width) for index in range(len(self.scales))]
        rows = [self._tile_rows(index, *size) for index, size in enumerate(sizes)]
        # Tile rows of all scales, top to bottom relative to their image, so that full-resolution
        # rows are decided (and their float buffers freed) as early as every scale allows.
        order = sorted(
            ((top / size[0], index, views) for index, size in enumerate(sizes)
             for top, views in rows[index]),
            key=lambda entry: entry[:2],
        )  # fmt: skip
        blends = []
        for size, tile_rows in zip(sizes, rows, strict=True):
            scale_views = [view for _, views in tile_rows for view in views]
            blends.append(_ScaleBlend(*size, scale_views, capacity=scale_views[0].shape[0]))
        upsample = [
            None if size == (height, width) else linear_taps(size[0], height) for size in sizes
        ]
        views = [view for _, _, tile_row in order for view in tile_row]
        mask = np.empty((height, width), np.uint8)
        return _Pending(item, image, views, blends, upsample, mask, remaining=len(views))

    def _tile_rows(self, index: int, height: int, width: int) -> list[tuple[int, list[_View]]]:
        """The views of scale `index` (rescaled size `height` x `width`) by tile row (top)."""
        if self.tiling is None:
            boxes = [(0, 0, height, width)]
        else:
            tile_height = min(self.tiling.size[0], height)
            tile_width = min(self.tiling.size[1], width)
            boxes = [
                (top, left, top + tile_height, left + tile_width)
                for top in tile_starts(height, tile_height, self.tiling.overlap)
                for left in tile_starts(width, tile_width, self.tiling.overlap)
            ]
        views = [_View(index, box, flip) for box in boxes for flip in self.flips]
        return [(top, list(group)) for top, group in groupby(views, key=lambda v: v.box[0])]

    def _scaled_size(self, index: int, height: int, width: int) -> tuple[int, int]:
        """The (height, width) the image is resized to before cutting views, at TTA scale index."""
        if self.tiling is None:
            (height, width), factor = self.size or (height, width), self.scales[index]
        else:
            factor = self.tiling.scale * self.scales[index]
        return max(1, round(height * factor)), max(1, round(width * factor))

    @torch.inference_mode()
    def _run(self, batch: list[tuple[_Pending[Item], _View]]) -> None:
        crops = torch.cat([self._crop(state, view) for state, view in batch])
        probabilities = self.model.run(crops).float().softmax(dim=1)
        window = blend_window(*batch[0][1].shape, device=probabilities.device)
        for (state, view), probability in zip(batch, probabilities, strict=True):
            blend = state.blends[view.scale_index]
            if blend.add(view, probability.flip(-1) if view.flip else probability, window):
                self._emit(state)
            state.remaining -= 1

    def _crop(self, state: _Pending[Item], view: _View) -> torch.Tensor:
        """The view's float (1, 3, h, w) input, cut from the uint8 image or its rescaled band."""
        top, left, bottom, right = view.box
        if state.upsample[view.scale_index] is None:
            crop = self._to_float(state.image[top:bottom, left:right])
        else:
            band_top, band_bottom, band = state.bands.get(view.scale_index, (-1, -1, None))
            if (band_top, band_bottom) != (top, bottom) or band is None:
                band = self._rescaled_band(state, view.scale_index, top, bottom)
                state.bands[view.scale_index] = (top, bottom, band)
            crop = band[:, :, :, left:right]
        return crop.flip(-1) if view.flip else crop

    def _rescaled_band(
        self, state: _Pending[Item], index: int, top: int, bottom: int
    ) -> torch.Tensor:
        """Rows [top, bottom) of the image resized to scale `index`, as float (1, 3, h, w)."""
        blend = state.blends[index]
        taps = linear_taps(state.image.shape[0], blend.height)

        def read(rows: np.ndarray) -> torch.Tensor:
            return self._to_float(state.image[rows])[0]

        return resize_rows(read, taps, blend.width, top, bottom)[None]

    def _to_float(self, pixels: np.ndarray) -> torch.Tensor:
        """uint8 (h, w, 3) pixels as a float (1, 3, h, w) model input on the model's device."""
        tensor = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.model.device)
        return tensor.permute(2, 0, 1)[None].float()

    def _emit(self, state: _Pending[Item]) -> None:
        """Decide the classes of every full-resolution row whose rows are finished at all scales,
        then free the finished rows no later row reads."""
        height, width = state.mask.shape
        ready = height
        for blend, taps in zip(state.blends, state.upsample, strict=True):
            if blend.finished_until < blend.height:
                needed = blend.finished_until
                if taps is not None:
                    needed = int(np.searchsorted(taps.second, blend.finished_until))
                ready = min(ready, needed)
        chunk = max(1, OUTPUT_CHUNK_PIXELS // width)
        while state.emitted < ready:
            start, stop = state.emitted, min(ready, state.emitted + chunk)
            total: torch.Tensor | None = None
            for blend, taps in zip(state.blends, state.upsample, strict=True):
                if taps is None:
                    part = blend.rows(np.arange(start, stop))
                else:
                    part = resize_rows(blend.rows, taps, width, start, stop)
                total = part if total is None else total + part
            assert total is not None
            state.mask[start:stop] = total.argmax(dim=0).to(torch.uint8).cpu().numpy()
            state.emitted = stop
        for blend, taps in zip(state.blends, state.upsample, strict=True):
            if state.emitted == height:
                blend.release(blend.height)
            else:
                blend.release(state.emitted if taps is None else int(taps.first[state.emitted]))

    def _finished(
        self, pending: deque[_Pending[Item]]
    ) -> Iterator[tuple[Item, np.ndarray, np.ndarray]]:
        while pending and pending[0].remaining == 0:
            state = pending.popleft()
            state.bands.clear()
            yield state.item, state.image, state.mask
