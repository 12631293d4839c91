"""Plain-text tables of per-class scores for the console and for files."""

from __future__ import annotations

import math
from collections.abc import Mapping

from drone_seg.classes import CLASS_NAMES


def class_table(metrics: Mapping[str, float], prefix: str = "val") -> str:
    """Return a Markdown table of per-class Dice and IoU, with the means over all and foreground."""
    rows = ["| class | Dice | IoU |", "| --- | ---: | ---: |"]
    for name in CLASS_NAMES:
        dice, iou = metrics[f"{prefix}/dice_{name}"], metrics[f"{prefix}/iou_{name}"]
        rows.append(f"| {name} | {_fmt(dice)} | {_fmt(iou)} |")
    rows.append(
        f"| mean (12 classes) | {_fmt(metrics[f'{prefix}/dice'])} | "
        f"{_fmt(metrics[f'{prefix}/iou'])} |"
    )
    rows.append(
        f"| mean (11, no background) | {_fmt(metrics[f'{prefix}/dice_fg'])} | "
        f"{_fmt(metrics[f'{prefix}/iou_fg'])} |"
    )
    return "\n".join(rows)


def _fmt(value: float) -> str:
    """Four decimals, or "n/a" for a class absent from both predictions and targets."""
    return "n/a" if math.isnan(value) else f"{value:.4f}"
