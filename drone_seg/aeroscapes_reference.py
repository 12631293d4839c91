"""AeroScapes' real label statistics, the target of the synthetic renderer and of `stats compare=`.

Derived from the public repository github.com/dataset-ninja/aeroscapes (commit dc259fa, 2025-08-15):
stats/classes_per_image.json (all 3,269 images: per class presence and % area) gives each class's
share of images and mean area where present; stats/object_sizes.json (one box per image and class
around that class's pixels) gives the median box; image names SSSSSS_FFF give the flights;
stats/class_cooccurrence.json gives the pairs of classes that are (almost) never seen together.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = (
    "github.com/dataset-ninja/aeroscapes @ dc259fa: stats/classes_per_image.json, "
    "stats/object_sizes.json, stats/class_cooccurrence.json (3,269 images, 141 flights)"
)

# The seven classes of countable things, whose box (around the class's pixels in an image) is
# compared; the other classes are stuff whose box is most of the frame.
THING_CLASSES: tuple[str, ...] = ("person", "bike", "car", "drone", "boat", "animal", "obstacle")


@dataclass(frozen=True)
class ClassFigures:
    """One class in AeroScapes: % of images holding it, mean % area where present, and the median
    height and width (% of the image) of the box around its pixels in an image."""

    image_share: float
    mean_area: float
    box_height: float
    box_width: float


AEROSCAPES: dict[str, ClassFigures] = {
    "background": ClassFigures(100.00, 23.115, 100.00, 100.00),
    "person": ClassFigures(79.44, 0.506, 19.44, 6.95),
    "bike": ClassFigures(38.67, 0.137, 9.72, 2.58),
    "car": ClassFigures(30.74, 1.200, 17.78, 12.34),
    "drone": ClassFigures(12.54, 0.232, 5.42, 4.69),
    "boat": ClassFigures(2.02, 1.074, 17.01, 8.12),
    "animal": ClassFigures(3.06, 2.739, 35.69, 39.49),
    "obstacle": ClassFigures(65.77, 0.855, 37.92, 36.09),
    "construction": ClassFigures(52.89, 8.404, 35.28, 52.50),
    "vegetation": ClassFigures(91.25, 40.632, 99.72, 99.92),
    "road": ClassFigures(85.78, 34.120, 99.72, 77.97),
    "sky": ClassFigures(15.91, 28.766, 46.11, 99.92),
}

# Frame count of each of the 141 flights (sequences SSSSSS), sorted.
FLIGHT_LENGTHS: tuple[int, ...] = (
    (1,) * 3 + (2,) * 27 + (3,) * 7 + (4,) * 17 + (5,) * 5 + (6,) * 6 + (7,) * 6 + (8,) * 11
    + (9,) * 7 + (10,) * 4 + (13, 13, 14, 14, 16, 16, 17, 17, 17, 18, 23, 37, 39, 39, 42, 45, 50)
    + (52, 53, 58, 58, 60, 60, 64, 64, 65, 65, 65, 66, 68, 69, 69, 70, 71, 73, 74, 77, 79, 85)
    + (86, 91, 91, 92, 107, 107, 113, 122, 125)
)  # fmt: skip

# Pairs of classes that share fewer than 10% of the images of the rarer one (a boat is never seen
# with a car or a road, a herd with bikes or drones).
APART: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in (
        ("animal", "bike"), ("animal", "boat"), ("animal", "car"), ("animal", "drone"),
        ("animal", "road"), ("bike", "boat"), ("bike", "drone"), ("boat", "car"),
        ("boat", "construction"), ("boat", "obstacle"), ("boat", "road"), ("boat", "sky"),
    )
)  # fmt: skip
