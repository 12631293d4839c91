"""Per-class Dice, IoU, precision and recall from one confusion matrix accumulated over an epoch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from drone_seg.classes import CLASS_NAMES


class SegmentationScores(MulticlassConfusionMatrix):
    """Dataset-level (global, not per-image or per-batch) segmentation scores.

    A pixel-count confusion matrix (rows: truth, columns: prediction) is summed over every batch
    (and over DDP ranks); the scores come from it at the end. A class absent from both the
    predictions and the targets has an undefined score (0/0): it is reported as NaN and left out
    of the macro means, never counted as 0 or 1.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        super().__init__(num_classes=num_classes, ignore_index=ignore_index, validate_args=False)

    def scores(self, prefix: str, class_names: tuple[str, ...] = CLASS_NAMES) -> dict[str, float]:
        """Return `{prefix}/dice`, `{prefix}/dice_fg`, `{prefix}/iou`, ... and per-class values.

        `dice` and `iou` are macro means over all classes, `dice_fg` and `iou_fg` over all but
        class 0 (background), as the reference recipe scored.
        """
        return confusion_scores(self.compute(), prefix, class_names)


def confusion_scores(
    confusion: torch.Tensor,
    prefix: str,
    class_names: tuple[str, ...] = CLASS_NAMES,
    small: Sequence[str] = (),
) -> dict[str, float]:
    """The scores of a pixel-count confusion matrix (rows: truth, columns: prediction).

    Per class: `{prefix}/{dice,iou,precision,recall}_{name}`. Macro means of dice and iou over
    all classes (`{prefix}/dice`), over all but background (`{prefix}/dice_fg`) and, when `small`
    names classes, over those (`{prefix}/dice_small`). Every mean skips undefined (NaN) scores.
    """
    per_class = per_class_scores(confusion.double())
    chosen = [class_names.index(name) for name in small]
    out: dict[str, float] = {}
    for metric, values in per_class.items():
        if metric in ("dice", "iou"):
            out[f"{prefix}/{metric}"] = float(values.nanmean())
            out[f"{prefix}/{metric}_fg"] = float(values[1:].nanmean())
            if chosen:
                out[f"{prefix}/{metric}_small"] = float(values[chosen].nanmean())
        for name, value in zip(class_names, values.tolist(), strict=True):
            out[f"{prefix}/{metric}_{name}"] = value
    return out


def per_class_scores(confusion: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return per-class dice, iou, precision and recall; NaN where the score's denominator is 0."""
    true_positive = confusion.diagonal()
    predicted = confusion.sum(dim=0)
    actual = confusion.sum(dim=1)
    return {
        "dice": _divide(2 * true_positive, predicted + actual),
        "iou": _divide(true_positive, predicted + actual - true_positive),
        "precision": _divide(true_positive, predicted),
        "recall": _divide(true_positive, actual),
    }


def _divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """Elementwise division giving NaN, not inf or 0, where the denominator is zero."""
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1), torch.nan)
