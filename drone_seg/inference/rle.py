"""Kaggle-style run-length encoding of binary masks, for submission files.

Pixels are numbered in row-major order (left to right along the first row, then the next row
down), starting at 1: pixel (row r, column c) of an H x W mask has number r * W + c + 1. A mask is
written as space-separated "start length" pairs, one pair per horizontal run of set pixels
(runs continue from the end of one row onto the next); an empty mask is the empty string.
Some competitions number pixels column-major (top to bottom first): transpose for those.
"""

from __future__ import annotations

import numpy as np


def encode(mask: np.ndarray) -> str:
    """Return the run-length encoding of a 2-D boolean mask (non-zero pixels are set)."""
    flat = np.concatenate([[False], np.asarray(mask, dtype=bool).ravel(order="C"), [False]])
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts, ends = changes[0::2], changes[1::2]
    return " ".join(f"{start} {end - start}" for start, end in zip(starts, ends, strict=True))


def decode(rle: str, shape: tuple[int, int]) -> np.ndarray:
    """Return the boolean mask of `shape` (height, width) that `rle` encodes."""
    numbers = np.array(rle.split(), dtype=np.int64)
    if len(numbers) % 2:
        raise ValueError(f"run-length encoding has an odd count of numbers: {rle[:40]!r}")
    starts, lengths = numbers[0::2] - 1, numbers[1::2]
    size = shape[0] * shape[1]
    if len(starts) and (starts.min() < 0 or lengths.min() < 0 or (starts + lengths).max() > size):
        raise ValueError(f"run-length encoding has runs outside a {shape[0]}x{shape[1]} mask")
    flat = np.zeros(size + 1, dtype=np.int32)
    np.add.at(flat, starts, 1)
    np.add.at(flat, starts + lengths, -1)
    return np.cumsum(flat[:-1]).astype(bool).reshape(shape)
