"""Plain-text tables of per-class scores for the console and for files."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from drone_seg.classes import CLASS_NAMES

# Column titles of the scores SegmentationScores computes per class.
TITLES = {"dice": "Dice", "iou": "IoU", "precision": "Precision", "recall": "Recall"}
MEAN_ALL = f"mean ({len(CLASS_NAMES)} classes)"
MEAN_FG = f"mean ({len(CLASS_NAMES) - 1}, no background)"


def class_rows(
    metrics: Mapping[str, float], prefix: str = "val", scores: Sequence[str] = ("dice", "iou")
) -> list[tuple[str, list[float]]]:
    """Return (row name, one value per score) for each class, then the two macro means.

    A mean that training logs (`val/dice`, `val/dice_fg`, ...) is taken as logged; the others
    (precision, recall) are the mean over the classes with a defined score, computed the same way.
    """
    rows = [(name, [metrics[f"{prefix}/{s}_{name}"] for s in scores]) for name in CLASS_NAMES]
    means_all, means_fg = [], []
    for column, score in enumerate(scores):
        values = [row[1][column] for row in rows]
        means_all.append(metrics.get(f"{prefix}/{score}", _nanmean(values)))
        means_fg.append(metrics.get(f"{prefix}/{score}_fg", _nanmean(values[1:])))
    return [*rows, (MEAN_ALL, means_all), (MEAN_FG, means_fg)]


def class_table(
    metrics: Mapping[str, float], prefix: str = "val", scores: Sequence[str] = ("dice", "iou")
) -> str:
    """Return a Markdown table of per-class scores, with the means over all and foreground."""
    lines = [
        "| class | " + " | ".join(TITLES[s] for s in scores) + " |",
        "| --- |" + " ---: |" * len(scores),
    ]
    for name, values in class_rows(metrics, prefix, scores):
        lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in values) + " |")
    return "\n".join(lines)


def _nanmean(values: Sequence[float]) -> float:
    """Mean of the defined (non-NaN) values; NaN when there are none."""
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


def _fmt(value: float) -> str:
    """Four decimals, or "n/a" for a class absent from both predictions and targets."""
    return "n/a" if math.isnan(value) else f"{value:.4f}"
