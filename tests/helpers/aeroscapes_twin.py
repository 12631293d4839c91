"""A label-composition twin of AeroScapes: its real ids, flights and official split, and per image
a small mask holding that image's real class areas (source: `data/aeroscapes_labels.csv.gz`).

Only labels are real: the images are one flat grey JPEG, enough for the loaders to accept the pairs.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from drone_seg.aeroscapes_layout import AEROSCAPES_SPLIT, IMAGES_DIR, MASKS_DIR
from drone_seg.classes import CLASS_NAMES, NUM_CLASSES

LABELS = Path(__file__).parent / "data" / "aeroscapes_labels.csv.gz"
# Mask size of the twin (9,216 pixels): each class's share of all pixels stays within 0.5% of the
# table's (at 36x64, bike's is 6% high: its many 0.01% areas round up to a whole pixel).
HEIGHT, WIDTH = 72, 128


@dataclass(frozen=True)
class LabelTable:
    """AeroScapes' per-image labels: ids, official split, class presence and % areas."""

    ids: list[str]
    official_val: np.ndarray  # (images,) bool: listed in ImageSets/val.txt
    present: np.ndarray  # (images, classes) bool
    areas: np.ndarray  # (images, classes) % of the image, 0.01 resolution

    @property
    def flights(self) -> np.ndarray:
        """The flight (sequence) of each image: `SSSSSS` of `SSSSSS_FFF`."""
        return np.array([image_id.split("_")[0] for image_id in self.ids])

    @property
    def fractions(self) -> np.ndarray:
        """(images, classes) each class's fraction of its image (areas rescaled to sum to 1)."""
        return self.areas / self.areas.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Twin:
    """A written twin: its data root, a statistics cache for it, and the table it was made from."""

    root: Path
    cache_dir: Path
    labels: LabelTable


def read_label_table(path: Path = LABELS) -> LabelTable:
    """Read the committed table; its columns must name drone_seg's classes in id order."""
    with gzip.open(path, "rt", newline="") as file:
        rows = list(csv.reader(line for line in file if not line.startswith("#")))
    header, rows = rows[0], rows[1:]
    assert header == ["image", "split", *CLASS_NAMES], header
    cells = np.array([row[2:] for row in rows])
    present = cells != ""
    areas = np.where(present, cells, "0").astype(float) / 100
    official_val = np.array([row[1] == "val" for row in rows])
    return LabelTable([row[0] for row in rows], official_val, present, areas)


def pixel_counts(present: np.ndarray, areas: np.ndarray, pixels: int) -> np.ndarray:
    """(images, classes) pixel counts summing to `pixels` per image, proportional to `areas` by
    largest remainder, with at least one pixel for every present class."""
    counts = np.zeros(areas.shape, dtype=np.int64)
    for n, (held, area) in enumerate(zip(present, areas, strict=True)):
        quota = area / area.sum() * pixels
        count = np.where(held, np.maximum(np.floor(quota), 1), 0).astype(np.int64)
        remainder = np.where(held & (count <= quota), quota - count, -np.inf)
        deficit = pixels - count.sum()
        if deficit > 0:
            count[np.argsort(-remainder, kind="stable")[:deficit]] += 1
        for _ in range(-deficit):
            count[np.argmax(count)] -= 1
        counts[n] = count
    return counts


def write_twin(root: Path, table: LabelTable, height: int = HEIGHT, width: int = WIDTH) -> Path:
    """Write the twin in AeroScapes' layout under `root` (JPEGs, class-id PNG masks filled class
    after class in raster order, ImageSets/trn.txt and val.txt); return `root`."""
    for folder in (IMAGES_DIR, MASKS_DIR, "ImageSets"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    counts = pixel_counts(table.present, table.areas, height * width)
    for image_id, count in zip(table.ids, counts, strict=True):
        mask = np.repeat(np.arange(NUM_CLASSES, dtype=np.uint8), count).reshape(height, width)
        Image.fromarray(mask).save(root / MASKS_DIR / f"{image_id}.png")
        (root / IMAGES_DIR / f"{image_id}.jpg").write_bytes(jpeg.tobytes())
    for name, is_val in (("train", False), ("val", True)):
        listed = [i for i, v in zip(table.ids, table.official_val, strict=True) if v == is_val]
        (root / AEROSCAPES_SPLIT[name]).write_text("".join(f"{i}\n" for i in listed))
    return root
