"""Training crops that, with probability `rare_p`, hold a pixel of a rare class of the image.

mmsegmentation's `cat_max_ratio` and nnU-Net's foreground oversampling both bias crops towards
what is rare: a 160x160 crop of a 1280x720 AeroScapes frame holds a boat in well under 1% of
random draws. These crops keep the usual crop's size distribution (the window is drawn exactly as
albumentations' RandomResizedCrop / RandomCrop draw it) and only move it: with probability
`rare_p`, a class is drawn uniformly among the `rare_classes` present in the mask, then one of
its pixels uniformly, and the window is shifted to a random position that still holds that pixel
(a random position, not the centre, so that the network learns no "rare things sit in the
middle" prior). An image without any rare pixel keeps its random crop.

All draws come from the transform's own seeded generator (`py_random`), so `Compose.set_random_seed`
makes them a function of the sample's seed, as for every other transform: DDP and exact resume
hold. With `rare_p=0` no extra number is drawn: the output is byte-identical to the plain crop.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import albumentations as A
import numpy as np

from drone_seg.data.rare_classes import class_ids
from drone_seg.data.scaled_decode import DecodesAtScale

# The config key the class names come from, named in errors.
CLASSES_KEY = "augment.class_aware_crop.classes"


class RarePixelWindow:
    """Mixin for an albumentations crop: moves its window onto a rare pixel with probability
    `rare_p` (see the module docstring); `rare_classes` are class names."""

    def __init__(
        self, *args: Any, rare_p: float = 0.0, rare_classes: Sequence[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not 0.0 <= rare_p <= 1.0:
            raise ValueError(f"rare_p={rare_p} must be in [0, 1]")
        self.rare_p = rare_p
        self.rare_classes = list(rare_classes)
        self._is_rare = np.zeros(256, dtype=bool)
        if rare_p > 0:
            self._is_rare[class_ids(rare_classes, CLASSES_KEY)] = True

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        chosen = super().get_params_dependent_on_data(params, data)
        if self.rare_p <= 0 or self.py_random.random() >= self.rare_p:
            return chosen
        mask = data.get("mask")
        pixel = None if mask is None else rare_pixel(mask, self._is_rare, self.py_random)
        if pixel is None:
            return chosen
        pad = chosen.get("pad_params") or {}
        top, left = pad.get("pad_top", 0), pad.get("pad_left", 0)
        frame = (
            mask.shape[0] + top + pad.get("pad_bottom", 0),
            mask.shape[1] + left + pad.get("pad_right", 0),
        )
        pixel = (pixel[0] + top, pixel[1] + left)
        chosen["crop_coords"] = window_holding(chosen["crop_coords"], pixel, frame, self.py_random)
        return chosen


def rare_pixel(mask: np.ndarray, is_rare: np.ndarray, rng: random.Random) -> tuple[int, int] | None:
    """(row, column) of a pixel of a rare class: the class drawn uniformly among the rare classes
    in `mask` (so that a tiny boat is as likely as a crowd), then one of its pixels; None if the
    mask holds no rare pixel. `is_rare` is a 256-entry lookup table of the rare labels."""
    where = np.flatnonzero(is_rare[mask.reshape(-1)])
    if not where.size:
        return None
    labels = mask.reshape(-1)[where]
    present = np.unique(labels)
    pixels = where[labels == present[rng.randrange(len(present))]]
    row, column = divmod(int(pixels[rng.randrange(len(pixels))]), mask.shape[1])
    return row, column


def window_holding(
    coords: tuple[int, int, int, int],
    pixel: tuple[int, int],
    frame: tuple[int, int],
    rng: random.Random,
) -> tuple[int, int, int, int]:
    """The window of `coords`' size (x_min, y_min, x_max, y_max) moved to a random position
    inside `frame` (height, width) at which it holds `pixel` (row, column)."""
    x_min, y_min, x_max, y_max = coords
    height, width = y_max - y_min, x_max - x_min
    top = rng.randint(max(0, pixel[0] - height + 1), min(pixel[0], frame[0] - height))
    left = rng.randint(max(0, pixel[1] - width + 1), min(pixel[1], frame[1] - width))
    return left, top, left + width, top + height


class ClassAwareRandomResizedCrop(RarePixelWindow, DecodesAtScale, A.RandomResizedCrop):
    """albumentations.RandomResizedCrop whose window holds a rare pixel with probability
    `rare_p`; given a JPEG still encoded, it decodes it at the scale its shrink allows."""


class ClassAwareRandomCrop(RarePixelWindow, A.RandomCrop):
    """albumentations.RandomCrop (padding included) whose window holds a rare pixel with
    probability `rare_p`."""
