"""The 12 AeroScapes classes and their colours: one source of truth for names, ids, palette."""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "background",
    "person",
    "bike",
    "car",
    "drone",
    "boat",
    "animal",
    "obstacle",
    "construction",
    "vegetation",
    "road",
    "sky",
)
NUM_CLASSES: int = len(CLASS_NAMES)

# The six small classes (each under 1% of AeroScapes' pixels), whose mean Dice eval and the
# ablation table report beside the macro means: the mean over all classes hides them.
SMALL_CLASSES: tuple[str, ...] = ("person", "bike", "drone", "boat", "animal", "obstacle")

# Label value that loss and metrics skip (padding, warped borders, unlabeled pixels).
IGNORE_INDEX: int = 255

# RGB colour of each class in AeroScapes' `Visualizations/` colour masks, indexed by class id.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (192, 128, 128),
    (0, 128, 0),
    (128, 128, 128),
    (128, 0, 0),
    (0, 0, 128),
    (192, 0, 128),
    (192, 0, 0),
    (192, 128, 0),
    (0, 64, 0),
    (128, 128, 0),
    (0, 128, 128),
)
