import math

import pytest
import torch

from drone_seg.models.metrics import SegmentationScores, confusion_scores, per_class_scores


def test_dice_iou_precision_recall_from_a_known_confusion_matrix() -> None:
    confusion = torch.tensor([[8.0, 2.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    scores = per_class_scores(confusion)
    assert torch.allclose(scores["dice"][:2], torch.tensor([16 / 19, 6 / 9]))
    assert torch.allclose(scores["iou"][:2], torch.tensor([8 / 11, 3 / 6]))
    assert torch.allclose(scores["precision"][:2], torch.tensor([8 / 9, 3 / 5]))
    assert torch.allclose(scores["recall"][:2], torch.tensor([8 / 10, 3 / 4]))
    assert all(math.isnan(values[2]) for values in scores.values())


def test_scores_accumulate_over_batches_not_average_per_batch_scores() -> None:
    metric = SegmentationScores(num_classes=2)
    first_pred, first_target = torch.tensor([[1, 1, 1, 1]]), torch.tensor([[1, 1, 1, 1]])
    second_pred, second_target = torch.tensor([[0, 0, 0, 1]]), torch.tensor([[1, 1, 1, 1]])
    metric.update(first_pred, first_target)
    metric.update(second_pred, second_target)
    scores = metric.scores("val", class_names=("background", "thing"))
    # Over the dataset, class 1: TP=5, FN=3, FP=0 -> 10/13; a per-batch mean would give (1+0.4)/2.
    assert math.isclose(scores["val/dice_thing"], 10 / 13, rel_tol=1e-9)
    assert math.isclose(scores["val/dice_fg"], 10 / 13, rel_tol=1e-9)
    assert scores["val/dice_background"] == 0.0
    assert math.isclose(scores["val/dice"], 5 / 13, rel_tol=1e-9)


def test_class_absent_from_predictions_and_targets_is_nan_and_left_out_of_means() -> None:
    metric = SegmentationScores(num_classes=3)
    metric.update(torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1, 1]]))
    scores = metric.scores("val", class_names=("background", "a", "b"))
    assert math.isnan(scores["val/dice_b"]) and math.isnan(scores["val/iou_b"])
    assert scores["val/dice"] == 1.0 and scores["val/iou_fg"] == 1.0


def test_ignored_pixels_do_not_count() -> None:
    metric = SegmentationScores(num_classes=2, ignore_index=255)
    metric.update(torch.tensor([[1, 0, 1]]), torch.tensor([[1, 255, 255]]))
    assert metric.compute().sum() == 1


def test_small_class_means_and_a_denominator_of_exactly_one() -> None:
    """`small` classes get their own macro mean; a score whose denominator is a single pixel is
    defined (not NaN): one predicted pixel gives a precision of 1 or 0."""
    # rows: truth, columns: prediction; class c was never predicted nor present.
    confusion = torch.tensor([[4.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    scores = confusion_scores(confusion, "val", ("a", "b", "c"), small=("b", "c"))
    assert scores["val/precision_b"] == 1.0 and scores["val/recall_b"] == 1.0
    assert scores["val/dice_small"] == 1.0 and scores["val/iou_small"] == 1.0  # c is left out
    confusion[1] = torch.tensor([1.0, 0.0, 0.0])  # b's one pixel predicted as a
    scores = confusion_scores(confusion, "val", ("a", "b", "c"), small=("a", "b"))
    assert scores["val/recall_b"] == 0.0 and math.isnan(scores["val/precision_b"])
    assert scores["val/dice_small"] == pytest.approx((8 / 9 + 0.0) / 2)
    assert "val/dice_small" not in confusion_scores(confusion, "val", ("a", "b", "c"))


def test_class_names_must_match_the_matrix() -> None:
    with pytest.raises(ValueError):
        confusion_scores(torch.eye(3), "val", ("a", "b"))
