"""Decoding only what a crop needs: a crop that shrinks its box at least 2, 4 or 8 times decodes
the JPEG at 1/2, 1/4 or 1/8 scale (libjpeg-turbo's DCT scaling) and resizes the box from that.

The network sees the same box resized to the same size, sampled at the same pixel centres as
`cv2.resize` of the full decode's box (output pixel j samples x = x_min + (j + 0.5) * box / out
- 0.5, which is (x + 0.5) / d - 0.5 in the 1/d image); only the interpolation differs: the
DCT-scaled image is a low-passed one, where bilinear resizing of the full image skips pixels.
A shrink under 2 decodes the whole image and takes the usual path, byte for byte. Masks are not
touched: they are cropped at full resolution, nearest-neighbour, as before.
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import cv2
import numpy as np

from drone_seg.data.io import EncodedImage

Box = tuple[int, int, int, int]  # x_min, y_min, x_max, y_max
SCALES: tuple[int, ...] = (8, 4, 2)  # DCT scaling denominators, largest first


def scale_for(box: Box, size: tuple[int, int]) -> int:
    """The largest of 8, 4 and 2 by which `box` shrinks along both axes on its way to `size`
    (height, width), else 1: decoding at that scale never enlarges the box."""
    shrink = min((box[3] - box[1]) / size[0], (box[2] - box[0]) / size[1])
    return next((d for d in SCALES if d <= shrink), 1)


def resized_box(
    scaled: np.ndarray, denominator: int, box: Box, size: tuple[int, int]
) -> np.ndarray:
    """`box` of the full image resized bilinearly to `size` from `scaled`, its 1/`denominator`
    decode, at the pixel centres `cv2.resize` samples (module docstring); edges replicated."""
    x_min, y_min, x_max, y_max = box
    height, width = size
    # The scaled pixels that hold the box: pixel k covers full pixels k*d .. k*d + d - 1.
    left, top = x_min // denominator, y_min // denominator
    right, bottom = -(-x_max // denominator), -(-y_max // denominator)
    step_x = (x_max - x_min) / width
    step_y = (y_max - y_min) / height
    matrix = np.array(
        [
            [step_x / denominator, 0.0, (x_min + step_x / 2) / denominator - 0.5 - left],
            [0.0, step_y / denominator, (y_min + step_y / 2) / denominator - 0.5 - top],
        ]
    )
    return cv2.warpAffine(
        scaled[top:bottom, left:right], matrix, (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip


class DecodesAtScale:
    """Mixin for albumentations' crop-and-resize transforms (`crop_coords` resized to `size`):
    given an `EncodedImage`, decodes it at the scale its box allows (`scale_for`), when the resize
    is bilinear (as every augment= config's); arrays, and other resizes, go the usual way."""

    def apply(self, img: Any, crop_coords: Box, **params: Any) -> np.ndarray:
        if not isinstance(img, EncodedImage):
            return super().apply(img, crop_coords=crop_coords, **params)
        bilinear = self.interpolation == cv2.INTER_LINEAR and self.area_for_downscale is None
        denominator = scale_for(crop_coords, self.size) if bilinear else 1
        if denominator == 1:
            return super().apply(img.decode(), crop_coords=crop_coords, **params)
        return resized_box(img.decode(denominator), denominator, crop_coords, self.size)


class EncodedPipeline:
    """`transform` run on an image that may still be encoded (`EncodedImage`).

    When `transform` is a Compose whose first transform decodes at scale (`DecodesAtScale`, always
    applied), that transform gets the encoded image and the rest its output, as a Compose of
    their own built with the same seed. Each transform draws from its own generator (seeded by
    Compose and by `set_random_seed`), so draws and outputs are those of `transform` itself.
    Otherwise the image is decoded first.
    """

    def __init__(self, transform: Any) -> None:
        self.transform = transform
        steps = list(transform.transforms) if isinstance(transform, A.Compose) else []
        scaled = steps and isinstance(steps[0], DecodesAtScale) and steps[0].p >= 1
        self.first = steps[0] if scaled and transform.p >= 1 else None
        self.rest = (
            A.Compose(steps[1:], seed=transform.seed, is_check_shapes=transform.is_check_shapes)
            if self.first is not None
            else None
        )

    def __call__(self, image: EncodedImage | np.ndarray, mask: np.ndarray) -> dict[str, Any]:
        if self.first is None or self.rest is None or not isinstance(image, EncodedImage):
            decoded = image.decode() if isinstance(image, EncodedImage) else image
            return self.transform(image=decoded, mask=mask)
        return self.rest(**self.first(image=image, mask=mask))
