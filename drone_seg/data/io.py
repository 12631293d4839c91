"""Reading images and masks from disk, the way the rest of the project expects them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from drone_seg.data.masks import decode_mask
from drone_seg.errors import DataError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})


def is_image_file(path: Path) -> bool:
    """True for image files by suffix (any case); hidden files such as `._x.jpg` are not images."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def read_image(path: Path) -> np.ndarray:
    """Return the image at `path` as an RGB uint8 array (H, W, 3); one-line error if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read image {path}: the file is missing or not a valid image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_size(path: Path) -> tuple[int, int]:
    """Return (height, width) of the image at `path` from its header, without decoding pixels."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError as error:
        raise DataError(f"image {path} not found: restore it or remove its mask") from error
    except (OSError, Image.DecompressionBombError) as error:
        raise DataError(
            f"cannot read image {path}: not a valid image file; replace it or remove it"
        ) from error
    return height, width


def read_mask_encoded(path: Path) -> tuple[np.ndarray, str]:
    """Return the class-id mask at `path` as uint8 (H, W) and the name of its encoding.

    Read with PIL so that palette ("P") PNGs give their indices, not the luminance of their colours.
    """
    try:
        with Image.open(path) as mask:
            mask.load()
            return decode_mask(mask, path)
    except FileNotFoundError as error:
        raise DataError(f"mask {path} not found: restore it or remove its image") from error
    except (OSError, Image.DecompressionBombError) as error:
        raise DataError(
            f"cannot read mask {path}: not a valid image file (truncated?); replace it"
        ) from error


def read_mask(path: Path) -> np.ndarray:
    """Return the class-id mask at `path` as uint8 (H, W), whatever its encoding."""
    return read_mask_encoded(path)[0]
