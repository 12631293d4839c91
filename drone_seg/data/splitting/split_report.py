"""The split report: per class, images and pixel share in train and in val, and the worst class.

A class's pixel share is its pixels over all labelled pixels of the subset. Its deviation is how far
val's share lies from train's, relative to train's: +0.25 means val holds 25% more of the class per
pixel than train does. Classes absent from both subsets have no deviation (NaN).
"""

from __future__ import annotations

import numpy as np

from drone_seg.classes import CLASS_NAMES

TRAIN, VAL = 0, 1


def pixel_shares(counts: np.ndarray) -> np.ndarray:
    """Each class's share of the labelled pixels in `counts` (images, classes), summed."""
    totals = counts.sum(axis=0).astype(float)
    return totals / max(totals.sum(), 1.0)


def share_deviation(counts: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Per class: val pixel share / train pixel share - 1 (inf if only val has the class)."""
    train, val = pixel_shares(counts[subset == TRAIN]), pixel_shares(counts[subset == VAL])
    with np.errstate(divide="ignore", invalid="ignore"):
        return val / train - 1.0


def worst_class(counts: np.ndarray, subset: np.ndarray) -> tuple[int, float]:
    """The class whose val pixel share deviates most from train's, and that deviation."""
    deviation = share_deviation(counts, subset)
    if np.isnan(deviation).all():
        return 0, float("nan")
    label = int(np.nanargmax(np.abs(deviation)))
    return label, float(deviation[label])


def split_report(counts: np.ndarray, subset: np.ndarray, title: str) -> str:
    """Markdown report of a split: a table per class and the largest deviation.

    `subset` holds 0 (train), 1 (val) or -1 (left out) for each row of `counts`.
    """
    train, val = counts[subset == TRAIN], counts[subset == VAL]
    share_train, share_val = pixel_shares(train), pixel_shares(val)
    deviation = share_deviation(counts, subset)
    left_out = int((subset < 0).sum())
    lines = [
        f"## {title}",
        "",
        f"{len(train)} train and {len(val)} val images "
        f"({100 * len(val) / max(len(train) + len(val), 1):.1f}% val)"
        + (f"; {left_out} left out" if left_out else "")
        + ".",
        "",
        "| class | train images | val images | train pixels % | val pixels % | val vs train |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, name in enumerate(CLASS_NAMES):
        lines.append(
            f"| {name} | {int((train[:, label] > 0).sum())} | {int((val[:, label] > 0).sum())} "
            f"| {100 * share_train[label]:.3f} | {100 * share_val[label]:.3f} "
            f"| {format_deviation(deviation[label])} |"
        )
    label, worst = worst_class(counts, subset)
    lines += [
        "",
        f"Largest deviation of a class's val pixel share from train's: {CLASS_NAMES[label]}, "
        f"{format_deviation(worst)}.",
    ]
    return "\n".join(lines) + "\n"


def format_deviation(value: float) -> str:
    """A deviation as a signed percentage; n/a for a class in neither subset."""
    if np.isnan(value):
        return "n/a"
    if np.isinf(value):
        return "only in val"
    return f"{100 * value:+.1f}%"
