"""Reading images and masks from disk, the way the rest of the project expects them.

Orientation policy: pixels are used as stored, the EXIF orientation tag ignored, for images
(simplejpeg never applies it, OpenCV with `IMREAD_IGNORE_ORIENTATION`) and masks (PIL, which never
applies it) alike, in training, evaluation and prediction: AeroScapes and common label tools label
the stored pixels. Every file is read completely: a JPEG cut short, which libjpeg would fill with
grey, is an error naming it.

JPEGs are decoded by simplejpeg (libjpeg-turbo; about twice OpenCV's rate in the bench's data
suite, docs/benchmarks.md), other formats and JPEGs it refuses (CMYK...) by OpenCV. `read_encoded`
leaves a JPEG encoded (`EncodedImage`), so that a crop can decode it at 1/2, 1/4 or 1/8 scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image

from drone_seg.data.masks import decode_mask
from drone_seg.errors import DataError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
# OpenCV would rotate JPEGs (and, from 5.0, PNGs) by their EXIF tag: it is told to ignore it in
# every mode below. Masks are read by PIL, which ignores it too: an image and its mask stay aligned.
# The modes by scale denominator (DCT-scaled for JPEGs), for files simplejpeg refuses.
_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
ORIENTATION_TAG = 0x0112  # EXIF orientation: 1 is "as stored", 2..8 flips and rotations
# JPEG markers without a length field: TEM and the restart markers RST0..RST7.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
_SOS, _EOI = 0xDA, b"\xff\xd9"
# JPEG colour spaces simplejpeg converts to RGB (not CMYK or YCCK, which OpenCV decodes).
_RGB_CONVERTIBLE = frozenset({"Gray", "YCbCr", "RGB"})


def is_image_file(path: Path) -> bool:
    """True for image files by suffix (any case); hidden files such as `._x.jpg` are not images."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def jpeg_is_complete(data: bytes) -> bool:
    """True unless `data` is a JPEG cut short: its segments end before the first scan, or no end
    marker follows the scan data (inside which 0xFF is always escaped, so 0xFFD9 is the end)."""
    if not data.startswith(b"\xff\xd8"):
        return True  # not a JPEG: its decoder reports truncation itself
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
        elif marker in _STANDALONE_MARKERS:
            position += 2
        elif marker == _SOS:
            return data.find(_EOI, position) >= 0
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return False


@dataclass(frozen=True)
class EncodedImage:
    """A JPEG read and checked complete, not yet decoded: its stored size from its header, its
    pixels on demand, whole or at 1/`denominator` scale (libjpeg-turbo's DCT scaling)."""

    path: Path
    data: bytes
    shape: tuple[int, int, int]  # (height, width, 3), as decoded

    def decode(self, denominator: int = 1) -> np.ndarray:
        """RGB uint8 (ceil(H / denominator), ceil(W / denominator), 3), as stored; `denominator`
        is 1, 2, 4 or 8. A file the decoder refuses is a one-line `DataError` naming it."""
        height, width = (-(-side // denominator) for side in self.shape[:2])
        try:
            image = simplejpeg.decode_jpeg(self.data, "RGB", min_height=height, min_width=width)
        except ValueError:  # e.g. corrupt data libjpeg-turbo could only guess at: OpenCV decides
            return _decode_opencv(self.data, self.path, _REDUCED[denominator])
        if image.shape[:2] != (height, width):
            raise DataError(
                f"cannot read image {self.path} at 1/{denominator} scale: the decoder gave "
                f"{image.shape[1]}x{image.shape[0]}, not {width}x{height}; replace it"
            )
        return image


def read_image(path: Path) -> np.ndarray:
    """Return the image at `path` fully decoded, as stored (EXIF orientation ignored), as an RGB
    uint8 array (H, W, 3); a missing, truncated or undecodable file is a one-line `DataError`."""
    image = read_encoded(path)
    return image.decode() if isinstance(image, EncodedImage) else image


def read_encoded(path: Path) -> EncodedImage | np.ndarray:
    """The image at `path`, checked as `read_image` checks it: a colour or grey JPEG left encoded
    (`decode()` gives its pixels), any other file decoded (RGB uint8, H x W x 3) by OpenCV."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as error:
        raise DataError(f"image {path} not found: restore it or remove it") from error
    except OSError as error:
        raise DataError(f"cannot read image {path} ({error.strerror}): check the file") from error
    if not jpeg_is_complete(data):
        raise DataError(f"cannot read image {path}: the JPEG is truncated; replace it or remove it")
    if data.startswith(b"\xff\xd8"):
        try:
            height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError:
            colorspace = ""  # a header libjpeg-turbo refuses: OpenCV names what is wrong
        if colorspace in _RGB_CONVERTIBLE:
            return EncodedImage(Path(path), data, (height, width, 3))
    return _decode_opencv(data, path)


def _decode_opencv(data: bytes, path: Path, mode: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Decode `data` with OpenCV in `mode` (full or reduced colour), as stored, to RGB uint8."""
    try:
        flags = mode | cv2.IMREAD_IGNORE_ORIENTATION
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as error:
        reason = str(error).strip().splitlines()[-1].rpartition("error: ")[2]
        raise DataError(
            f"cannot read image {path}: OpenCV refuses it ({reason}); replace it or remove it"
        ) from error
    if image is None:
        raise DataError(
            f"cannot read image {path}: not a valid image file (truncated?); replace it or "
            "remove it"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def orientation_of(image: Image.Image, loaded: bool) -> int:
    """The EXIF orientation tag of an open PIL image, 1 when absent; for a PNG not `loaded` only
    the chunks before its pixels are looked at (`getexif` would decode them all)."""
    if image.format == "PNG" and not loaded:
        exif = Image.Exif()
        exif.load(image.info.get("exif", b""))
    else:
        exif = image.getexif()
    value = exif.get(ORIENTATION_TAG, 1)
    return value if isinstance(value, int) else 1


def exif_orientation(path: Path) -> int:
    """The EXIF orientation tag of the image at `path` (1 when absent), read from its header."""
    try:
        with Image.open(path) as image:
            return orientation_of(image, loaded=False)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 1  # the file's decoder reports what is wrong with it


def read_mask_encoded(path: Path) -> tuple[np.ndarray, str]:
    """Return the class-id mask at `path` as uint8 (H, W) and the name of its encoding."""
    mask, encoding, _ = read_mask_details(path)
    return mask, encoding


def read_mask_details(path: Path) -> tuple[np.ndarray, str, int]:
    """Return the class-id mask at `path` as uint8 (H, W), its encoding and EXIF orientation tag.

    Read with PIL so that palette ("P") PNGs give their indices, not the luminance of their colours;
    `load()` decodes every pixel, so a truncated file is an error (PIL's default
    `ImageFile.LOAD_TRUNCATED_IMAGES=False`).
    """
    try:
        with Image.open(path) as mask:
            mask.load()
            return (*decode_mask(mask, path), orientation_of(mask, loaded=True))
    except FileNotFoundError as error:
        raise DataError(f"mask {path} not found: restore it or remove its image") from error
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(
            f"cannot read mask {path}: not a valid image file (truncated?); replace it"
        ) from error


def read_mask(path: Path) -> np.ndarray:
    """Return the class-id mask at `path` as uint8 (H, W), whatever its encoding."""
    return read_mask_encoded(path)[0]
