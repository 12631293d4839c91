"""Reading images and masks from disk, the way the rest of the project expects them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from drone_seg.errors import DataError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})


def read_image(path: Path) -> np.ndarray:
    """Return the image at `path` as an RGB uint8 array (H, W, 3); one-line error if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read image {path}: the file is missing or not a valid image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray:
    """Return the class-id mask at `path` as uint8 (H, W).

    Read with PIL so that palette ("P") PNGs give their indices, not the luminance of their colours.
    """
    try:
        with Image.open(path) as mask:
            if mask.mode not in ("P", "L"):
                raise DataError(
                    f"mask {path} has mode {mask.mode}; expected 8-bit class ids (mode L or P)"
                )
            return np.asarray(mask, dtype=np.uint8)
    except (FileNotFoundError, Image.UnidentifiedImageError) as error:
        raise DataError(
            f"cannot read mask {path}: the file is missing or not a valid PNG"
        ) from error
