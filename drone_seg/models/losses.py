"""Segmentation losses: focal, soft Dice and their weighted sum (the project's training loss).

All losses take ``logits`` of shape (N, C, H, W) and an int64 ``target`` of shape (N, H, W) whose
values are class ids in ``0..C-1`` or ``ignore_index``. Ignored pixels contribute nothing to the
value or the gradient, and a batch without any valid pixel yields a zero loss that is still
connected to ``logits`` (so ``backward()`` works and no NaN reaches the optimizer).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from drone_seg.classes import IGNORE_INDEX

__all__ = ["FocalDiceLoss", "FocalLoss", "SoftDiceLoss"]

# Floor for Dice denominators and for the Dice score before the log (as in smp).
_EPS = 1e-7


def _check_shapes(logits: torch.Tensor, target: torch.Tensor) -> None:
    """Raise a clear error when ``target`` is not ``logits`` without its class dimension."""
    if logits.dim() < 2 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"expected logits (N, C, H, W) and target (N, H, W), "
            f"got logits {tuple(logits.shape)} and target {tuple(target.shape)}"
        )


def _valid_and_safe_target(
    target: torch.Tensor, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the mask of non-ignored pixels and a copy of ``target`` with ignored pixels set to 0.

    The placeholder 0 only keeps indexing (gather, one-hot) in range; those pixels are masked out.
    """
    valid = target != ignore_index
    return valid, target.masked_fill(~valid, 0)


class FocalLoss(nn.Module):
    """Multi-class focal loss ``-alpha[t] * (1 - p_t)**gamma * log(p_t)`` (Lin et al., 2017).

    Down-weights well-classified pixels so training focuses on hard and rare ones. ``log p_t`` comes
    from ``log_softmax`` for numerical stability. The result is the mean over non-ignored pixels:
    the sum is divided by the number of valid pixels, *not* by the sum of ``alpha`` over them as
    ``F.cross_entropy(weight=...)`` does, so ``alpha`` scales the loss as well as reweighting
    classes. With ``gamma=0`` and ``alpha=None`` this equals ``F.cross_entropy`` with
    ``ignore_index``.

    Args:
        gamma: Focusing parameter (>= 0); 0 disables the modulating factor.
        alpha: Optional per-class weights (e.g. inverse-frequency class weights), length C.
        ignore_index: Target value of pixels to skip.
    """

    alpha: torch.Tensor | None

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Sequence[float] | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        alpha_t = None
        if alpha is not None:
            alpha_t = torch.tensor([float(a) for a in alpha], dtype=torch.float32)
            if alpha_t.numel() == 0 or bool((alpha_t < 0).any()):
                raise ValueError(f"alpha must be a non-empty sequence of weights >= 0, got {alpha}")
        self.register_buffer("alpha", alpha_t)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the scalar focal loss averaged over the non-ignored pixels."""
        _check_shapes(logits, target)
        num_classes = logits.shape[1]
        if self.alpha is not None and self.alpha.numel() != num_classes:
            raise ValueError(
                f"alpha has {self.alpha.numel()} entries but logits have {num_classes} classes"
            )
        valid, safe_target = _valid_and_safe_target(target, self.ignore_index)
        log_pt = F.log_softmax(logits, dim=1).gather(1, safe_target.unsqueeze(1)).squeeze(1)
        loss = -log_pt
        if self.gamma != 0:
            # The clamp keeps the gradient finite for 0 < gamma < 1 when p_t rounds to exactly 1.
            one_minus_pt = (1 - log_pt.exp()).clamp_min(torch.finfo(log_pt.dtype).eps)
            loss = one_minus_pt.pow(self.gamma) * loss
        if self.alpha is not None:
            loss = self.alpha.to(loss.dtype)[safe_target] * loss
        loss = torch.where(valid, loss, torch.zeros_like(loss))
        return loss.sum() / valid.sum().clamp_min(1)


class SoftDiceLoss(nn.Module):
    """Soft multi-class Dice loss on softmax probabilities versus the one-hot target.

    For each class c, sums run over the whole batch (N, H, W) with ignored pixels removed from both
    the probabilities and the one-hot target::

        dice_c = (2 * sum(p_c * t_c) + smooth) / (sum(p_c) + sum(t_c) + smooth)

    The loss is ``1 - mean(dice_c)`` or, with ``log_loss=True``, ``mean(-log(dice_c))``, with the
    mean taken over the classes present in the batch's target only. Dice is ill-defined for a
    class with no target pixel, so, as in segmentation_models_pytorch, absent classes contribute
    nothing and their false positives are left to the focal term. Unlike that library, which then
    divides by C, this divides by the number of present classes, so the loss stays in [0, 1] and
    its scale does not shrink when a batch holds few classes.

    Args:
        smooth: Additive smoothing in numerator and denominator (>= 0).
        ignore_index: Target value of pixels to skip.
        log_loss: Use ``-log(dice)`` (stronger gradient on poorly segmented classes).
    """

    def __init__(
        self, smooth: float = 1.0, ignore_index: int = IGNORE_INDEX, log_loss: bool = False
    ) -> None:
        super().__init__()
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth}")
        self.smooth = float(smooth)
        self.ignore_index = ignore_index
        self.log_loss = log_loss

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the scalar Dice loss averaged over the classes present in ``target``."""
        _check_shapes(logits, target)
        num_classes = logits.shape[1]
        valid, safe_target = _valid_and_safe_target(target, self.ignore_index)
        mask = valid.unsqueeze(1).to(logits.dtype)
        probs = logits.softmax(dim=1) * mask
        one_hot = F.one_hot(safe_target, num_classes).movedim(-1, 1).to(logits.dtype) * mask
        dims = (0, *range(2, logits.dim()))
        intersection = (probs * one_hot).sum(dims)
        target_count = one_hot.sum(dims)
        cardinality = probs.sum(dims) + target_count
        dice = (2 * intersection + self.smooth) / (cardinality + self.smooth).clamp_min(_EPS)
        per_class = -dice.clamp_min(_EPS).log() if self.log_loss else 1 - dice
        present = (target_count > 0).to(per_class.dtype)
        return (per_class * present).sum() / present.sum().clamp_min(1)


class FocalDiceLoss(nn.Module):
    """Project training loss: ``focal_weight * focal + dice_weight * soft_dice``.

    Focal handles per-pixel hard examples and class imbalance (via ``class_weights``); Dice
    optimizes region overlap directly, which helps small classes (person, bike, drone). The parts
    are exposed as ``self.focal`` and ``self.dice`` for separate logging.

    Args:
        focal_weight: Weight of the focal term (>= 0).
        dice_weight: Weight of the Dice term (>= 0); not both weights may be zero.
        gamma: Focal focusing parameter.
        class_weights: Optional per-class weights, used as the focal term's ``alpha``.
        smooth: Dice smoothing.
        log_dice: Use the ``-log(dice)`` form of the Dice term.
        ignore_index: Target value of pixels to skip in both terms.
    """

    def __init__(
        self,
        focal_weight: float,
        dice_weight: float,
        gamma: float,
        class_weights: Sequence[float] | None,
        smooth: float,
        log_dice: bool,
        ignore_index: int,
    ) -> None:
        super().__init__()
        if focal_weight < 0:
            raise ValueError(f"focal_weight must be >= 0, got {focal_weight}")
        if dice_weight < 0:
            raise ValueError(f"dice_weight must be >= 0, got {dice_weight}")
        if focal_weight == 0 and dice_weight == 0:
            raise ValueError("focal_weight and dice_weight cannot both be 0")
        self.focal_weight = float(focal_weight)
        self.dice_weight = float(dice_weight)
        self.focal = FocalLoss(gamma=gamma, alpha=class_weights, ignore_index=ignore_index)
        self.dice = SoftDiceLoss(smooth=smooth, ignore_index=ignore_index, log_loss=log_dice)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the weighted sum of the focal and Dice terms; a term weighted 0 is skipped."""
        loss = logits.new_zeros(())
        if self.focal_weight:
            loss = loss + self.focal_weight * self.focal(logits, target)
        if self.dice_weight:
            loss = loss + self.dice_weight * self.dice(logits, target)
        return loss
