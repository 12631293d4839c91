"""Rows of a bilinear resize, computed from only the source rows they need.

Prediction resizes images down to the working size and probabilities up to the full resolution.
Doing it a band of rows at a time keeps memory bounded by the band, not by the image: `resize_rows`
returns rows [start, stop) of what `F.interpolate(mode="bilinear", align_corners=False)` returns
for the whole map, with the same source rows, weights and roundings as PyTorch's CPU kernel (one
fused multiply-add per step; on a CPU without FMA results can differ by one float32 rounding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# Source plus target pixels resized at a time (3 to 12 channels, float64 at the last step).
CHUNK_PIXELS = 1 << 20


@dataclass(frozen=True)
class LinearTaps:
    """Per target row: the two source rows it blends (`first` <= `second`) and their weights."""

    first: np.ndarray
    second: np.ndarray
    first_weight: torch.Tensor
    second_weight: torch.Tensor


def linear_taps(source: int, target: int) -> LinearTaps:
    """The taps of resizing `source` rows to `target` rows, as PyTorch computes them: source
    position scale * (row + 0.5) - 0.5 in float32 (one rounding), clamped at 0."""
    scale = np.float32(source) / np.float32(target)
    exact = np.float64(scale) * (np.arange(target, dtype=np.float64) + 0.5) - 0.5
    position = np.maximum(exact.astype(np.float32), np.float32(0))
    first = position.astype(np.int64)
    second_weight = np.clip(position - first.astype(np.float32), 0, 1).astype(np.float32)
    first_weight = (np.float32(1) - second_weight).astype(np.float32)
    second = np.minimum(first + 1, source - 1)
    weights = torch.from_numpy(first_weight), torch.from_numpy(second_weight)
    return LinearTaps(first, second, *weights)


def resize_rows(
    read: Callable[[np.ndarray], torch.Tensor],
    taps: LinearTaps,
    width: int,
    start: int,
    stop: int,
) -> torch.Tensor:
    """Rows [start, stop) (C, stop - start, width) of the resized map.

    `read(rows)` gives the float source rows named by the sorted array `rows`, (C, len(rows), W).
    """
    chunk = max(1, CHUNK_PIXELS // (2 * width))
    parts = [
        _resize_chunk(read, taps, width, low, min(stop, low + chunk))
        for low in range(start, stop, chunk)
    ]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _resize_chunk(
    read: Callable[[np.ndarray], torch.Tensor], taps: LinearTaps, width: int, start: int, stop: int
) -> torch.Tensor:
    first, second = taps.first[start:stop], taps.second[start:stop]
    rows = np.unique(np.concatenate([first, second]))
    source = read(rows)
    if source.shape[-1] != width:
        size = (len(rows), width)  # height unchanged: weights 1 and 0, the exact source rows
        source = F.interpolate(source[None], size=size, mode="bilinear", align_corners=False)[0]
    device = source.device
    upper = source[:, torch.from_numpy(np.searchsorted(rows, first)).to(device)]
    lower = source[:, torch.from_numpy(np.searchsorted(rows, second)).to(device)]
    upper_weight = taps.first_weight[start:stop, None].to(device)
    lower_weight = taps.second_weight[start:stop, None].to(device)
    # The kernel's fma(upper, upper_weight, lower * lower_weight), rounded once to float32.
    blended = (lower * lower_weight).double() + upper.double() * upper_weight.double()
    return blended.float()
