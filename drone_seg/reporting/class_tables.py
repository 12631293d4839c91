"""Plain-text tables of per-class scores for the console and for files."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from drone_seg.classes import CLASS_NAMES, SMALL_CLASSES
from drone_seg.reporting.markdown import markdown_table

# Column titles of the scores SegmentationScores computes per class.
TITLES = {"dice": "Dice", "iou": "IoU", "precision": "Precision", "recall": "Recall"}
MEAN_ALL = f"mean ({len(CLASS_NAMES)} classes)"
MEAN_FG = f"mean ({len(CLASS_NAMES) - 1}, no background)"
MEAN_SMALL = f"mean ({len(SMALL_CLASSES)} small: {', '.join(SMALL_CLASSES)})"
# What a mean row and "n/a" mean, for the reader of any table below.
ABSENT_NOTE = (
    "n/a: the class is absent from both the predictions and the masks of the whole set (0/0); "
    "it is left out of every mean. A class predicted but absent from the masks has IoU and Dice 0."
)


def class_rows(
    metrics: Mapping[str, float], prefix: str = "val", scores: Sequence[str] = ("dice", "iou")
) -> list[tuple[str, list[float]]]:
    """Return (row name, one value per score) for each class, then the three macro means.

    A mean given in `metrics` (`val/dice`, `val/dice_fg`, `val/dice_small`, ...) is taken as is;
    the others (precision, recall, the small classes' mean of the validation loop) are the mean
    over the classes with a defined score, computed the same way.
    """
    rows = [(name, [metrics[f"{prefix}/{s}_{name}"] for s in scores]) for name in CLASS_NAMES]
    small = [CLASS_NAMES.index(name) for name in SMALL_CLASSES]
    means_all, means_fg, means_small = [], [], []
    for column, score in enumerate(scores):
        values = [row[1][column] for row in rows]
        means_all.append(metrics.get(f"{prefix}/{score}", _nanmean(values)))
        means_fg.append(metrics.get(f"{prefix}/{score}_fg", _nanmean(values[1:])))
        fallback = _nanmean([values[index] for index in small])
        means_small.append(metrics.get(f"{prefix}/{score}_small", fallback))
    return [*rows, (MEAN_ALL, means_all), (MEAN_FG, means_fg), (MEAN_SMALL, means_small)]


def class_table(
    metrics: Mapping[str, float], prefix: str = "val", scores: Sequence[str] = ("dice", "iou")
) -> str:
    """Return a Markdown table of per-class scores, with the means over all, foreground, small."""
    return comparison_table(metrics, [("", prefix)], scores)


def comparison_table(
    metrics: Mapping[str, float],
    columns: Sequence[tuple[str, str]],
    scores: Sequence[str] = ("iou", "dice"),
) -> str:
    """Return a Markdown table with, for each (heading, prefix) of `columns`, one column per score
    (titled "IoU (heading)"), so that e.g. single-scale and TTA scores sit side by side."""
    titles = [
        f"{TITLES[s]} ({heading})" if heading else TITLES[s]
        for heading, _ in columns
        for s in scores
    ]
    blocks = [class_rows(metrics, prefix, scores) for _, prefix in columns]
    rows = [
        [name, *(_fmt(value) for block in blocks for value in block[index][1])]
        for index, (name, _) in enumerate(blocks[0])
    ]
    return markdown_table(["class", *titles], rows, "l" + "r" * len(titles))


def _nanmean(values: Sequence[float]) -> float:
    """Mean of the defined (non-NaN) values; NaN when there are none."""
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


def _fmt(value: float) -> str:
    """Four decimals, or "n/a" for a class absent from both predictions and targets."""
    return "n/a" if math.isnan(value) else f"{value:.4f}"
