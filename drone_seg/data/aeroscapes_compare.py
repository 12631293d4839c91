"""A dataset's label profile beside AeroScapes' reference table, with the error figures the
synthetic renderer's defaults are held to: |log2(ours / AeroScapes)| of each class's image share
and mean area, and the factor between the median boxes of the thing classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drone_seg.aeroscapes_reference import AEROSCAPES, FLIGHT_LENGTHS, SOURCE, THING_CLASSES
from drone_seg.classes import CLASS_NAMES
from drone_seg.data.label_profile import LabelProfile

THINGS = np.array([name in THING_CLASSES for name in CLASS_NAMES])


def log2_error(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|log2(ours / reference)| per class; infinite where ours is 0 or missing (NaN)."""
    with np.errstate(divide="ignore"):
        error = np.abs(np.log2(np.nan_to_num(ours, nan=0.0) / reference))
    return error


@dataclass(frozen=True)
class TwinErrors:
    """How far a profile is from AeroScapes, per class (box factors are NaN for stuff classes)."""

    share: np.ndarray
    area: np.ndarray
    box: np.ndarray

    @classmethod
    def of(cls, profile: LabelProfile) -> TwinErrors:
        """The errors of `profile` against the reference table."""
        ref = np.array([[getattr(f, k) for k in vars(f)] for f in AEROSCAPES.values()])
        height = 2.0 ** log2_error(profile.box_height, ref[:, 2])
        width = 2.0 ** log2_error(profile.box_width, ref[:, 3])
        return cls(
            share=log2_error(profile.image_share, ref[:, 0]),
            area=log2_error(profile.mean_area, ref[:, 1]),
            box=np.where(THINGS, np.maximum(height, width), np.nan),
        )


def flight_summary(lengths: tuple[int, ...]) -> str:
    """Number of flights and their frame counts: min, quartiles, max."""
    q = np.percentile(lengths, (0, 25, 50, 75, 100)) if lengths else np.zeros(5)
    return f"{len(lengths)} flights, frames min {q[0]:g} / 25% {q[1]:g} / median {q[2]:g} / " + (
        f"75% {q[3]:g} / max {q[4]:g}"
    )


def figure(value: float, digits: int = 2) -> str:
    """A table cell: the number, or n/a for a class the dataset never holds."""
    return "n/a" if np.isnan(value) else f"{value:.{digits}f}"


def comparison_text(profile: LabelProfile, name: str) -> str:
    """The printed comparison: a row per class, then the summary error figures."""
    errors = TwinErrors.of(profile)
    lines = [
        f"{name} ({profile.images} images) beside AeroScapes ({SOURCE})",
        "",
        "| class | images %, AeroScapes | ours | abs log2 | mean area %, AeroScapes | ours | "
        "abs log2 | median box h x w %, AeroScapes | ours | factor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c, (label, ref) in enumerate(AEROSCAPES.items()):
        ours_box = f"{figure(profile.box_height[c], 1)} x {figure(profile.box_width[c], 1)}"
        box = (
            f"{ref.box_height:.1f} x {ref.box_width:.1f} | {ours_box} | {figure(errors.box[c])}"
            if THINGS[c]
            else "- | - | -"
        )
        lines.append(
            f"| {label} | {ref.image_share:.2f} | {figure(profile.image_share[c])} | "
            f"{errors.share[c]:.2f} | {ref.mean_area:.3f} | {figure(profile.mean_area[c], 3)} | "
            f"{errors.area[c]:.2f} | {box} |"
        )
    worst = (CLASS_NAMES[int(np.argmax(e))] for e in (errors.share, errors.area))
    boxes = errors.box[THINGS]
    lines += [
        "",
        f"image share: mean abs log2 {errors.share.mean():.3f}, worst {errors.share.max():.3f} "
        f"({next(worst)})",
        f"mean area:   mean abs log2 {errors.area.mean():.3f}, worst {errors.area.max():.3f} "
        f"({next(worst)})",
        f"thing boxes: worst factor {boxes.max():.2f} "
        f"({np.array(CLASS_NAMES)[THINGS][int(np.argmax(boxes))]})",
        f"flights, ours:       {flight_summary(profile.flight_lengths)}",
        f"flights, AeroScapes: {flight_summary(FLIGHT_LENGTHS)}",
    ]
    return "\n".join(lines)
