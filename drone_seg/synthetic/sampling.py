"""Random draws as plain values: uniform numbers, picks from a list, jittered and
random-hue colours."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """One uniform draw as a Python float."""
    return float(rng.uniform(low, high))


def pick(rng: np.random.Generator, options: Sequence):
    """One element of `options`, uniformly."""
    return options[int(rng.integers(len(options)))]


def vary(rng: np.random.Generator, colour: Sequence[float], spread: float = 10.0) -> np.ndarray:
    """`colour` (RGB 0..255) with independent Gaussian jitter per channel."""
    return np.clip(np.asarray(colour, float) + rng.normal(0.0, spread, 3), 0.0, 255.0)


def hsv(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]):
    """A random-hue RGB colour with saturation and value drawn from the given ranges."""
    rgb = colorsys.hsv_to_rgb(rng.random(), uniform(rng, *saturation), uniform(rng, *value))
    return np.array(rgb) * 255.0
