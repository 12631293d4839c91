"""Mask encodings: 8-bit class ids, palette PNGs (indices are class ids), RGB class colours.

The encoding is read from each file's mode, so a dataset may mix them. A colour that is no class's
colour (`drone_seg.classes.PALETTE`) is an error naming the file: guessing a class, or silently
ignoring those pixels, could hide a wrong palette. White (255, 255, 255) in a colour mask is the
ignore label (255), so that ignored pixels survive a round trip through colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from drone_seg.classes import CLASS_NAMES, IGNORE_INDEX, PALETTE
from drone_seg.errors import DataError

IDS, INDEXED, COLOURS = "class ids", "palette", "RGB colours"
ENCODINGS: tuple[str, ...] = (IDS, INDEXED, COLOURS)
# What each encoding means, for the log line that reports what was found.
DESCRIPTIONS: dict[str, str] = {
    IDS: "single-channel class ids",
    INDEXED: "palette PNGs whose indices are the class ids",
    COLOURS: "RGB colour masks mapped through the class colours",
}

# The class colours packed as 0xRRGGBB, sorted for a vectorized lookup, and their class ids.
_CODES = np.array([(r << 16) | (g << 8) | b for r, g, b in PALETTE], dtype=np.int64)
_ORDER = np.argsort(_CODES)
_SORTED_CODES, _SORTED_IDS = _CODES[_ORDER], _ORDER.astype(np.uint8)
# The ignore label in colour masks: white, as in Pascal VOC-style visualizations.
_IGNORE_CODE = 0xFFFFFF


def decode_mask(mask: Image.Image, path: Path) -> tuple[np.ndarray, str]:
    """Return the class ids (uint8, H x W) of a loaded PIL mask and the name of its encoding."""
    if mask.mode in ("L", "1"):
        return np.asarray(mask, dtype=np.uint8), IDS
    if mask.mode == "P":
        return np.asarray(mask, dtype=np.uint8), INDEXED
    if mask.mode == "LA":
        return np.asarray(mask.getchannel("L"), dtype=np.uint8), IDS
    if mask.mode.startswith("I"):
        return wide_ids(np.asarray(mask), path), IDS
    if mask.mode in ("RGB", "RGBA"):
        return colours_to_ids(np.asarray(mask.convert("RGB")), path), COLOURS
    raise DataError(
        f"mask {path} has image mode {mask.mode}: save masks as 8-bit class ids, palette PNGs "
        "or RGB class colours"
    )


def wide_ids(values: np.ndarray, path: Path) -> np.ndarray:
    """16/32-bit class ids as uint8; a value above 255 is an error rather than wrapped around."""
    largest = int(values.max(initial=0))
    if largest > 255 or int(values.min(initial=0)) < 0:
        raise DataError(
            f"mask {path} holds label {largest}: labels must be 0..{len(CLASS_NAMES) - 1} or "
            f"{IGNORE_INDEX} (ignored); fix the mask or its encoding"
        )
    return values.astype(np.uint8)


def colours_to_ids(rgb: np.ndarray, path: Path) -> np.ndarray:
    """Map an RGB colour mask (H, W, 3) to class ids; white is the ignore label, others an error."""
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    position = np.minimum(np.searchsorted(_SORTED_CODES, codes), len(_SORTED_CODES) - 1)
    ids = _SORTED_IDS[position]
    ignored = codes == _IGNORE_CODE
    unknown = (_SORTED_CODES[position] != codes) & ~ignored
    if unknown.any():
        r, g, b = rgb[unknown][0]
        raise DataError(
            f"mask {path} has colour ({r}, {g}, {b}) in {int(unknown.sum())} pixels, which is no "
            "class colour (drone_seg.classes.PALETTE): fix the mask, or save class ids instead"
        )
    ids[ignored] = IGNORE_INDEX
    return ids
