"""Light, atmosphere and camera response of a sequence: the sun, sky, haze and exposure."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drone_seg.synthetic.sampling import uniform, vary
from drone_seg.synthetic.shapes import heading_vector


@dataclass(frozen=True)
class Sun:
    """Direction of sunlight and how strongly it shades faces and casts shadows."""

    azimuth: float
    elevation: float
    ambient: float  # brightness of faces turned away from the sun
    shadow: float  # brightness factor inside cast shadows

    @property
    def direction(self) -> np.ndarray:
        """Unit vector pointing towards the sun."""
        flat = math.cos(self.elevation)
        return np.array(
            [
                flat * math.cos(self.azimuth),
                flat * math.sin(self.azimuth),
                math.sin(self.elevation),
            ]
        )

    def shadow_offset(self, height: float) -> np.ndarray:
        """Ground displacement of the shadow of a point `height` metres up."""
        return -height / math.tan(self.elevation) * heading_vector(self.azimuth)

    def brightness(self, normal: np.ndarray) -> float:
        """Lambertian brightness of a face with the given outward normal, in a few steps."""
        light = self.ambient + (1.0 - self.ambient) * max(0.0, float(normal @ self.direction))
        return round(light * 20) / 20


@dataclass(frozen=True)
class Look:
    """Sky, haze and camera response of a sequence; exposure and colour temperature drift per
    frame."""

    zenith: np.ndarray
    horizon: np.ndarray
    cloud_cover: float
    haze: np.ndarray
    visibility: float
    white_balance: np.ndarray  # (frames, 3) channel gains
    exposure: np.ndarray  # (frames,) gains
    saturation: float
    contrast: float
    noise: float
    blur: float
    vignette: float

    def faded(self, colour: np.ndarray, distance: float) -> np.ndarray:
        """An object's colour seen through `distance` metres of haze."""
        weight = 1.0 - math.exp(-distance / self.visibility)
        return np.asarray(colour) * (1 - weight) + self.haze * weight


def make_sun(rng: np.random.Generator, overcast: bool) -> Sun:
    """Sun position and shadow strength for one sequence."""
    return Sun(
        azimuth=uniform(rng, 0.0, 2 * np.pi),
        elevation=uniform(rng, 0.5, 1.15),
        ambient=uniform(rng, 0.7, 0.8) if overcast else uniform(rng, 0.45, 0.6),
        shadow=uniform(rng, 0.8, 0.88) if overcast else uniform(rng, 0.45, 0.62),
    )


def make_look(rng: np.random.Generator, overcast: bool, frames: int) -> Look:
    """Sky colours, haze and camera response for one sequence; exposure drifts per frame."""
    if overcast:
        zenith, horizon = vary(rng, (150, 158, 170), 8), vary(rng, (205, 208, 212), 6)
        cover = uniform(rng, 0.7, 1.0)
    else:
        zenith, horizon = vary(rng, (62, 118, 196), 12), vary(rng, (188, 208, 228), 8)
        cover = uniform(rng, 0.0, 0.6)
    warmth = uniform(rng, -1.0, 1.0) + np.cumsum(rng.normal(0.0, 0.05, frames))
    base_exposure = uniform(rng, 0.85, 1.12)
    return Look(
        zenith=zenith,
        horizon=horizon,
        cloud_cover=cover,
        haze=horizon * 0.92 + 10.0,
        visibility=uniform(rng, 350.0, 1500.0),
        white_balance=np.stack([1 + 0.07 * warmth, 1 + 0.01 * warmth, 1 - 0.08 * warmth], 1),
        exposure=base_exposure * (1 + np.cumsum(rng.normal(0.0, 0.015, frames))),
        saturation=uniform(rng, 0.8, 1.1),
        contrast=uniform(rng, 0.9, 1.1),
        noise=uniform(rng, 1.5, 4.5),
        blur=uniform(rng, 0.45, 0.85),
        vignette=uniform(rng, 0.0, 0.25),
    )
