"""Tileable noise fields, sampled at world coordinates so textures stick to the world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

TILE = 256  # side of the tileable noise fields


class Spectrum(NamedTuple):
    """Shape of a noise field's spectrum: a 1/f**beta fall-off, or a band around `peak` (cycles
    per texel) for blobs of one size; `stretch` > 1 elongates features along x (ripples)."""

    beta: float = 2.0
    stretch: float = 1.0
    peak: float | None = None


@lru_cache(maxsize=32)
def spectrum_amplitude(spectrum: Spectrum, size: int) -> np.ndarray:
    """Amplitude of each rfft2 frequency bin for a spectrum shape."""
    freq_y = np.fft.fftfreq(size)[:, None]
    freq_x = np.fft.rfftfreq(size)[None, :] * spectrum.stretch
    radius = np.hypot(freq_x, freq_y)
    radius[0, 0] = np.inf
    if spectrum.peak is None:
        return radius ** (-spectrum.beta / 2)
    return np.exp(-(((radius - spectrum.peak) / (0.5 * spectrum.peak)) ** 2))


def noise_fields(rng: np.random.Generator, spectra: Sequence[Spectrum], size: int = TILE):
    """Tileable noise fields (size, size, channels), each with zero mean and unit variance."""
    white = np.fft.rfft2(rng.standard_normal((len(spectra), size, size)))
    shaped = white * np.stack([spectrum_amplitude(s, size) for s in spectra])
    noise = np.fft.irfft2(shaped, s=(size, size))
    noise -= noise.mean(axis=(1, 2), keepdims=True)
    noise /= noise.std(axis=(1, 2), keepdims=True)
    return np.ascontiguousarray(np.moveaxis(noise, 0, -1), dtype=np.float32)


BROAD_PERIOD, MEDIUM_PERIOD, CLOUD_PERIOD = 500.0, 40.0, 9000.0
PATCHES, WOODS, BLEND, WOBBLE = range(4)  # channels of the broad (landscape) noise
CLUMPS, CROWNS, RIPPLES, GRAIN = range(4)  # channels of the medium (surface detail) noise


@dataclass(frozen=True)
class NoiseTiles:
    """Tileable noise fields, sampled at world coordinates so textures stick to the world."""

    broad: np.ndarray  # 4 smooth channels: land-cover patches, woods, colour blend, shore wobble
    medium: np.ndarray  # 4 channels: clumps, tree crowns, water ripples, grain
    cloud: np.ndarray


def make_tiles(rng: np.random.Generator) -> NoiseTiles:
    """Draw the noise fields of one sequence."""
    crowns = Spectrum(peak=MEDIUM_PERIOD / 3.0 / TILE)  # 3 m tree crowns
    ripples = Spectrum(stretch=4.0, peak=MEDIUM_PERIOD / 1.5 / TILE)
    smooth = [Spectrum(3.2), Spectrum(3.2), Spectrum(2.6), Spectrum(3.0)]
    return NoiseTiles(
        broad=noise_fields(rng, smooth, TILE // 2),  # smooth fields need few texels
        medium=noise_fields(rng, [Spectrum(2.0), crowns, ripples, Spectrum(0.6)]),
        cloud=noise_fields(rng, [Spectrum(3.4)], TILE // 2)[..., 0],
    )


def sample_tile(tile: np.ndarray, x: np.ndarray, y: np.ndarray, period: float) -> np.ndarray:
    """Bilinear, wrapping lookup of a noise tile at 2-D world coordinates; one tile = `period` m."""
    size = tile.shape[0]
    map_x, map_y = wrap(x * (size / period), size), wrap(y * (size / period), size)
    return cv2.remap(tile, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def wrap(texels: np.ndarray, size: int) -> np.ndarray:
    """Texel coordinates folded into [0, size) for a power-of-two tile (OpenCV's fast path)."""
    whole = np.floor(texels)
    return ((whole.astype(np.int64) & (size - 1)) + (texels - whole)).astype(np.float32)


def sample_points(tile: np.ndarray, points: np.ndarray, period: float) -> np.ndarray:
    """`sample_tile` at a list of (x, y) points (laid out in rows for OpenCV's size limits)."""
    count = len(points)
    if count == 0:
        return np.zeros((0, *tile.shape[2:]), np.float32)
    width = min(count, 4096)
    rows = -(-count // width)
    grid = np.zeros((rows * width, 2))
    grid[:count] = points
    values = sample_tile(
        tile, grid[:, 0].reshape(rows, width), grid[:, 1].reshape(rows, width), period
    )
    return values.reshape(rows * width, *tile.shape[2:])[:count]
