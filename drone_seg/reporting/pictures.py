"""Pictures of masks and scores, drawn with OpenCV: colour masks, overlays, confusion matrices."""

from __future__ import annotations

import cv2
import numpy as np

from drone_seg.classes import CLASS_NAMES, IGNORE_INDEX, PALETTE

Palette = tuple[tuple[int, int, int], ...]
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def colorize(mask: np.ndarray, palette: Palette = PALETTE) -> np.ndarray:
    """Return the RGB colour mask (H, W, 3) of a class-id mask, by default in AeroScapes' colours;
    ignored and unknown ids are white, so they never pass for a class."""
    lut = np.full((256, 3), 255, dtype=np.uint8)
    lut[: len(palette)] = palette
    return lut[mask]


def overlay(
    image: np.ndarray, mask: np.ndarray, alpha: float = 0.5, palette: Palette = PALETTE
) -> np.ndarray:
    """Blend the colour mask over an RGB image; ignored pixels keep the image."""
    blended = cv2.addWeighted(image, 1.0 - alpha, colorize(mask, palette), alpha, 0.0)
    return np.where((mask == IGNORE_INDEX)[..., None], image, blended)


def legend(width: int, row_height: int = 18) -> np.ndarray:
    """Return an RGB strip naming each class beside its colour, wrapped to `width` pixels."""
    per_row = max(1, width // 130)
    rows = -(-len(CLASS_NAMES) // per_row)
    strip = np.full((rows * row_height, width, 3), 255, dtype=np.uint8)
    for index, (name, colour) in enumerate(zip(CLASS_NAMES, PALETTE, strict=True)):
        x, y = (index % per_row) * (width // per_row) + 4, (index // per_row) * row_height
        cv2.rectangle(strip, (x, y + 3), (x + 12, y + row_height - 3), colour, -1)
        cv2.putText(strip, name, (x + 16, y + row_height - 5), _FONT, 0.4, (0, 0, 0), 1)
    return strip


def prediction_grid(images: np.ndarray, targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Rows of (image, truth overlay, prediction overlay) with a class legend underneath."""
    rows = [
        np.concatenate([image, overlay(image, target), overlay(image, prediction)], axis=1)
        for image, target, prediction in zip(images, targets, predictions, strict=True)
    ]
    grid = np.concatenate(rows, axis=0)
    return np.concatenate([grid, legend(grid.shape[1])], axis=0)


def confusion_image(confusion: np.ndarray, cell: int = 36) -> np.ndarray:
    """Draw a row-normalized confusion matrix (rows: truth, columns: prediction) as RGB."""
    totals = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, totals, out=np.zeros_like(confusion, float), where=totals > 0)
    count = len(share)
    margin = 100
    picture = np.full((margin + count * cell, margin + count * cell, 3), 255, dtype=np.uint8)
    shades = (255 * (1.0 - share)).astype(np.uint8)
    cells = np.kron(shades, np.ones((cell, cell), dtype=np.uint8))
    picture[margin:, margin:] = np.stack([cells, cells, np.full_like(cells, 255)], axis=-1)
    names = CLASS_NAMES[:count]
    for index, name in enumerate(names):
        offset = margin + index * cell
        cv2.putText(picture, name[:12], (2, offset + cell // 2 + 4), _FONT, 0.35, (0, 0, 0), 1)
        cv2.putText(picture, name[:5], (offset + 2, margin - 6), _FONT, 0.3, (0, 0, 0), 1)
        for column in range(count):
            text_colour = (255, 255, 255) if share[index, column] > 0.5 else (0, 0, 0)
            position = (margin + column * cell + 4, offset + cell // 2 + 4)
            value = f"{share[index, column]:.2f}"[1:] if share[index, column] < 1 else "1.0"
            cv2.putText(picture, value, position, _FONT, 0.33, text_colour, 1)
    cv2.putText(picture, "truth \\ predicted", (2, 14), _FONT, 0.4, (0, 0, 0), 1)
    return picture
