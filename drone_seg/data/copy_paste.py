"""Copy-paste of rare-class regions between training images (Ghiasi et al.'s simple copy-paste).

With probability `p`, a training sample receives the pixels of one of `classes` from another
training image that holds that class: the class is drawn uniformly among those with a donor, the
donor uniformly among the training images holding it (from the per-image class counts of the
start-up statistics, not recomputed). All pixels of the class are pasted, or one of its connected
regions (`connected`), where they were in the donor (`placement=same`: in oblique drone views
an object's size goes with its height in the frame) or at a random place (`random`).

It is applied to the images as read, before the augmentation pipeline: both images are then at
native resolution, so a pasted object keeps its true size (pasted into an already zoomed crop it
would be out of scale); the pasted pixels go through the same crop, warps and colour changes as
the rest, so they blend in; and the class-aware crop can find them. It needs a second sample,
which a per-image albumentations transform cannot read, hence the dataset level.

Every draw (coin, class, donor, region, place) comes from a generator seeded by the sample's
augmentation seed, itself a function of (seed, epoch, position): DDP and exact resume hold.
Ignore semantics: only donor pixels labelled with the class are pasted, never its ignored (255)
pixels; the target pixels under them take that class, whatever they held (255 included), since
their image pixels are now the donor's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from drone_seg.classes import CLASS_NAMES
from drone_seg.data.rare_classes import class_ids

log = logging.getLogger(__name__)

# Mixed into the sample seed so that these draws are not albumentations' draws of the same seed.
STREAM = 0x43505354
Reader = Callable[[int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class CopyPaste:
    """Pastes rare-class pixels of a donor training image (see the module docstring).

    `holders[k]` are the positions, among the training samples, of the images holding class
    `classes[k]`.
    """

    p: float
    classes: np.ndarray
    holders: tuple[np.ndarray, ...] = field(repr=False)
    connected: bool
    placement: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, counts: np.ndarray) -> CopyPaste | None:
        """The copy-paste of `augment.copy_paste` over training images with per-class pixel
        `counts` (images, classes); None when it is off (no config, or p = 0)."""
        if not config or float(config["p"]) == 0:
            return None
        placement = str(config["placement"])
        classes = class_ids(config["classes"], "augment.copy_paste.classes")
        holders = tuple(np.flatnonzero(counts[:, c] > 0) for c in classes)
        found = ", ".join(
            f"{CLASS_NAMES[c]} {h.size}" for c, h in zip(classes, holders, strict=True)
        )
        log.info("Copy-paste donors (training images holding each class): %s", found)
        if not any(h.size for h in holders):
            log.warning("No training image holds an augment.copy_paste class: nothing is pasted")
        return cls(float(config["p"]), classes, holders, bool(config["connected"]), placement)

    def pastes(self, seed: int) -> bool:
        """Whether the coin of sample seed `seed` (the first draw of `__call__`) says to paste:
        the dataset decodes whole images only for those samples."""
        return np.random.default_rng([seed, STREAM]).random() < self.p

    def __call__(
        self, index: int, seed: int, image: np.ndarray, mask: np.ndarray, read: Reader
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample `index`'s image and mask with, with probability p, a donor's pixels pasted;
        `read(i)` reads training sample i's image and mask."""
        rng = np.random.default_rng([seed, STREAM])
        if rng.random() >= self.p:  # the coin of `pastes`
            return image, mask
        choices = [(c, h[h != index]) for c, h in zip(self.classes, self.holders, strict=True)]
        choices = [(int(c), h) for c, h in choices if h.size]
        if not choices:
            return image, mask
        class_id, holders = choices[rng.integers(len(choices))]
        donor_image, donor_mask = read(int(holders[rng.integers(holders.size)]))
        region = donor_mask == class_id
        if self.connected:
            count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
            region = labels == rng.integers(1, count) if count > 1 else region
        return paste(image, mask, donor_image, region, class_id, self.placement, rng)


def paste(
    image: np.ndarray,
    mask: np.ndarray,
    donor_image: np.ndarray,
    region: np.ndarray,
    class_id: int,
    placement: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Copies of `image` and `mask` with the donor's pixels in `region` (a boolean mask of the
    donor) pasted and labelled `class_id`: where they were (`same`) or with their bounding box
    at a random place (`random`); what falls outside the image is cut off."""
    rows, columns = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    if not rows.size:
        return image, mask
    top, left = int(rows[0]), int(columns[0])
    box_height, box_width = int(rows[-1]) + 1 - top, int(columns[-1]) + 1 - left
    height, width = mask.shape[:2]
    if placement == "random":
        to_top = int(rng.integers(max(0, height - box_height) + 1))
        to_left = int(rng.integers(max(0, width - box_width) + 1))
    else:
        to_top, to_left = top, left
    rows_kept, columns_kept = min(box_height, height - to_top), min(box_width, width - to_left)
    if rows_kept <= 0 or columns_kept <= 0:
        return image, mask
    where = region[top : top + rows_kept, left : left + columns_kept]
    image, mask = image.copy(), mask.copy()
    target = (slice(to_top, to_top + rows_kept), slice(to_left, to_left + columns_kept))
    image[target][where] = donor_image[top : top + rows_kept, left : left + columns_kept][where]
    mask[target][where] = class_id
    return image, mask
