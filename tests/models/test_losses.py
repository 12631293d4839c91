"""Tests for drone_seg.models.losses against straightforward reference computations."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from drone_seg.classes import IGNORE_INDEX, NUM_CLASSES
from drone_seg.cli import CONFIG_DIR
from drone_seg.models.losses import FocalDiceLoss, FocalLoss, SoftDiceLoss

from helpers.shipped import shipped


def make_inputs(
    n: int = 2,
    c: int = 4,
    h: int = 5,
    w: int = 6,
    *,
    num_target_classes: int | None = None,
    ignore_frac: float = 0.2,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits and a target with about ``ignore_frac`` ignored pixels.

    Target labels are drawn from ``0..num_target_classes-1`` (default all C classes), so passing
    fewer than C leaves the last classes absent.
    """
    gen = torch.Generator().manual_seed(seed)
    logits = (2 * torch.randn(n, c, h, w, generator=gen)).to(dtype)
    target = torch.randint(0, num_target_classes or c, (n, h, w), generator=gen)
    ignored = torch.rand(n, h, w, generator=gen) < ignore_frac
    target[ignored] = IGNORE_INDEX
    assert ignored.any() and not ignored.all()
    return logits, target


def reference_focal(
    logits: torch.Tensor, target: torch.Tensor, gamma: float, alpha: list[float] | None
) -> float:
    """Focal loss pixel by pixel in plain Python: mean over non-ignored pixels."""
    probs = logits.softmax(dim=1)
    n, _, h, w = logits.shape
    total, count = 0.0, 0
    for b in range(n):
        for i in range(h):
            for j in range(w):
                t = int(target[b, i, j])
                if t == IGNORE_INDEX:
                    continue
                p = float(probs[b, t, i, j])
                weight = 1.0 if alpha is None else alpha[t]
                total += -weight * (1 - p) ** gamma * math.log(p)
                count += 1
    return total / count


def reference_dice(
    logits: torch.Tensor, target: torch.Tensor, smooth: float, log_loss: bool
) -> float:
    """Soft Dice loss with an explicit loop over classes, averaged over present classes only."""
    probs = logits.softmax(dim=1)
    valid = target != IGNORE_INDEX
    losses = []
    for c in range(logits.shape[1]):
        t = (target[valid] == c).double()
        if t.sum() == 0:
            continue
        p = probs[:, c][valid].double()
        dice = (2 * (p * t).sum() + smooth) / (p.sum() + t.sum() + smooth)
        losses.append(-math.log(float(dice)) if log_loss else 1 - float(dice))
    return sum(losses) / len(losses)


def focal_dice(**changes: Any) -> FocalDiceLoss:
    """The shipped loss (conf/loss/focal_dice.yaml), `changes` on top."""
    return FocalDiceLoss(**shipped("loss", **changes))


ALL_LOSSES = {
    "focal": lambda: FocalLoss(gamma=2.0, alpha=[0.5, 1.0, 2.0, 1.5]),
    "dice": lambda: SoftDiceLoss(),
    "log_dice": lambda: SoftDiceLoss(log_loss=True, smooth=0.0),
    "focal_dice": lambda: focal_dice(class_weights=[0.5, 1.0, 2.0, 1.5], log_dice=True),
}


# ---------------------------------------------------------------- focal


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.5])
@pytest.mark.parametrize("alpha", [None, [0.25, 1.0, 3.0, 0.5]])
def test_focal_matches_reference(gamma: float, alpha: list[float] | None) -> None:
    logits, target = make_inputs(seed=1)
    loss = FocalLoss(gamma=gamma, alpha=alpha)(logits, target)
    assert loss.item() == pytest.approx(reference_focal(logits, target, gamma, alpha), rel=1e-10)


def test_focal_gamma_zero_equals_cross_entropy() -> None:
    logits, target = make_inputs(2, NUM_CLASSES, 16, 16, dtype=torch.float32, seed=2)
    loss = FocalLoss(gamma=0.0)(logits, target)
    expected = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(loss, expected)


def test_focal_alpha_normalizes_by_valid_pixel_count_not_alpha_sum() -> None:
    logits, target = make_inputs(seed=3)
    alpha = [0.25, 1.0, 3.0, 0.5]
    loss = FocalLoss(gamma=0.0, alpha=alpha)(logits, target)
    weighted_sum = F.cross_entropy(
        logits,
        target,
        weight=torch.tensor(alpha, dtype=logits.dtype),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    n_valid = (target != IGNORE_INDEX).sum()
    torch.testing.assert_close(loss, weighted_sum / n_valid)


def test_focal_alpha_is_a_buffer_following_the_module() -> None:
    focal = FocalLoss(alpha=[1.0, 2.0, 3.0, 4.0])
    assert "alpha" in dict(focal.named_buffers())
    assert focal.double().alpha.dtype == torch.float64
    assert "alpha" not in dict(FocalLoss().named_buffers())


def test_focal_small_gamma_with_saturated_logits_has_finite_grad() -> None:
    logits, target = make_inputs(dtype=torch.float32, seed=4)
    logits = F.one_hot(target.clamp_max(3), 4).movedim(-1, 1).float() * 200.0
    logits.requires_grad_(True)
    FocalLoss(gamma=0.5)(logits, target).backward()
    assert torch.isfinite(logits.grad).all()


# ---------------------------------------------------------------- soft dice


@pytest.mark.parametrize("log_loss", [False, True])
@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_dice_matches_reference(log_loss: bool, smooth: float) -> None:
    logits, target = make_inputs(c=5, num_target_classes=4, seed=5)  # class 4 is absent
    loss = SoftDiceLoss(smooth=smooth, log_loss=log_loss)(logits, target)
    assert loss.item() == pytest.approx(reference_dice(logits, target, smooth, log_loss), rel=1e-10)


@pytest.mark.parametrize("log_loss", [False, True])
def test_dice_perfect_prediction_is_zero(log_loss: bool) -> None:
    _, target = make_inputs(c=5, num_target_classes=3, dtype=torch.float32, seed=6)
    logits = F.one_hot(target.clamp_max(4), 5).movedim(-1, 1).float() * 100.0
    loss = SoftDiceLoss(smooth=0.0, log_loss=log_loss)(logits, target)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_dice_absent_classes_do_not_count() -> None:
    # Uniform prediction over 4 classes, target all class 0: only dice_0 is averaged.
    n_pix, smooth = 20, 1.0
    logits = torch.zeros(1, 4, 4, 5, dtype=torch.float64)
    target = torch.zeros(1, 4, 5, dtype=torch.long)
    dice_0 = (2 * 0.25 * n_pix + smooth) / (0.25 * n_pix + n_pix + smooth)
    loss = SoftDiceLoss(smooth=smooth)(logits, target)
    assert loss.item() == pytest.approx(1 - dice_0, rel=1e-12)


# ---------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize("name", list(ALL_LOSSES))
def test_ignored_pixels_do_not_change_value_and_get_zero_grad(name: str) -> None:
    loss_fn = ALL_LOSSES[name]()
    logits, target = make_inputs(seed=7)
    ignored = (target == IGNORE_INDEX).unsqueeze(1).expand_as(logits)
    perturbed = logits + 50.0 * torch.randn_like(logits) * ignored
    logits.requires_grad_(True)
    loss = loss_fn(logits, target)
    loss.backward()
    torch.testing.assert_close(loss_fn(perturbed, target), loss.detach())
    assert (logits.grad[ignored] == 0).all()
    assert (logits.grad[~ignored] != 0).any()


@pytest.mark.parametrize("name", list(ALL_LOSSES))
def test_all_ignored_gives_zero_loss_with_grad(name: str) -> None:
    logits = torch.randn(2, 4, 3, 3, requires_grad=True)
    target = torch.full((2, 3, 3), IGNORE_INDEX, dtype=torch.long)
    loss = ALL_LOSSES[name]()(logits, target)
    assert loss.item() == 0.0
    assert loss.grad_fn is not None
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize(
    "loss_fn",
    [
        FocalLoss(gamma=2.0, alpha=[0.5, 2.0, 1.0]),
        FocalLoss(gamma=0.7),
        SoftDiceLoss(smooth=1.0),
        SoftDiceLoss(smooth=0.0, log_loss=True),
        focal_dice(focal_weight=0.3, dice_weight=0.7, class_weights=[0.5, 2.0, 1.0]),
    ],
    ids=["focal_alpha", "focal_small_gamma", "dice", "log_dice", "focal_dice"],
)
def test_gradcheck(loss_fn: nn.Module) -> None:
    logits, target = make_inputs(2, 3, 3, 4, ignore_frac=0.25, seed=8)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss_fn(x, target), (logits,))


# ---------------------------------------------------------------- combined loss and validation


@pytest.mark.parametrize("log_dice", [False, True])
def test_focal_dice_is_weighted_sum_of_parts(log_dice: bool) -> None:
    logits, target = make_inputs(seed=9)
    weights = [0.5, 1.0, 2.0, 1.5]
    combined = focal_dice(
        focal_weight=0.3,
        dice_weight=1.2,
        gamma=1.5,
        class_weights=weights,
        smooth=0.5,
        log_dice=log_dice,
    )
    focal = FocalLoss(gamma=1.5, alpha=weights)(logits, target)
    dice = SoftDiceLoss(smooth=0.5, log_loss=log_dice)(logits, target)
    torch.testing.assert_close(combined(logits, target), 0.3 * focal + 1.2 * dice)


@pytest.mark.parametrize(
    ("focal_weight", "dice_weight", "match"),
    [(-0.1, 0.5, "focal_weight"), (0.5, -1.0, "dice_weight"), (0.0, 0.0, "both")],
)
def test_focal_dice_rejects_bad_weights(
    focal_weight: float, dice_weight: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        focal_dice(focal_weight=focal_weight, dice_weight=dice_weight)


def test_single_term_weights_are_allowed() -> None:
    logits, target = make_inputs(seed=10)
    focal_only = focal_dice(focal_weight=1.0, dice_weight=0.0)(logits, target)
    torch.testing.assert_close(focal_only, FocalLoss()(logits, target))


@pytest.mark.parametrize(
    "loss_fn", [FocalLoss(alpha=[1.0, 1.0, 1.0]), focal_dice(class_weights=[1.0] * 5)]
)
def test_alpha_length_mismatch_raises(loss_fn: nn.Module) -> None:
    logits, target = make_inputs(c=4)
    with pytest.raises(ValueError, match=r"alpha has \d+ entries but logits have 4 classes"):
        loss_fn(logits, target)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: FocalLoss(gamma=-1.0), "gamma"),
        (lambda: FocalLoss(alpha=[1.0, -0.5]), "alpha"),
        (lambda: FocalLoss(alpha=[]), "alpha"),
        (lambda: SoftDiceLoss(smooth=-1.0), "smooth"),
    ],
)
def test_invalid_hyperparameters_raise(factory: Callable[[], nn.Module], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()


@pytest.mark.parametrize("name", list(ALL_LOSSES))
def test_target_shape_mismatch_raises(name: str) -> None:
    logits, target = make_inputs()
    with pytest.raises(ValueError, match="target"):
        ALL_LOSSES[name]()(logits, target[:, :-1])


# ---------------------------------------------------------------- loss presets in conf/loss/


@pytest.mark.parametrize(
    ("preset", "reference"),
    [
        ("focal_dice", lambda x, t: 0.5 * FocalLoss()(x, t) + 0.5 * SoftDiceLoss()(x, t)),
        ("focal", lambda x, t: FocalLoss()(x, t)),
        ("dice", lambda x, t: SoftDiceLoss()(x, t)),
        ("cross_entropy", lambda x, t: F.cross_entropy(x, t, ignore_index=IGNORE_INDEX)),
    ],
)
def test_loss_presets_compute_what_their_names_say(
    train_config: Callable[..., DictConfig],
    preset: str,
    reference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> None:
    loss = instantiate(train_config(f"loss={preset}").loss)
    logits, target = make_inputs(c=NUM_CLASSES, seed=11)
    torch.testing.assert_close(loss(logits, target), reference(logits, target))


def test_zero_weighted_term_is_not_computed() -> None:
    logits, target = make_inputs(seed=12)
    loss = focal_dice(focal_weight=1.0, dice_weight=0.0)
    loss.dice.forward = lambda *args: pytest.fail("the Dice term was computed at weight 0")
    torch.testing.assert_close(loss(logits, target), FocalLoss()(logits, target))


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: FocalLoss(gamma=-1.0), "gamma must be >= 0, got -1.0"),
        (
            lambda: FocalLoss(alpha=[1.0, -0.5]),
            "alpha must be a non-empty sequence of weights >= 0, got [1.0, -0.5]",
        ),
        (lambda: SoftDiceLoss(smooth=-1.0), "smooth must be >= 0, got -1.0"),
        (lambda: focal_dice(focal_weight=-0.1), "focal_weight must be >= 0, got -0.1"),
        (lambda: focal_dice(dice_weight=-1.0), "dice_weight must be >= 0, got -1.0"),
        (
            lambda: focal_dice(focal_weight=0, dice_weight=0),
            "focal_weight and dice_weight cannot both be 0",
        ),
    ],
)
def test_invalid_hyperparameters_are_refused_with_their_value(
    factory: Callable[[], nn.Module], message: str
) -> None:
    with pytest.raises(ValueError) as error:
        factory()
    assert str(error.value) == message


def test_zero_is_a_valid_gamma_smoothing_and_class_weight() -> None:
    """The bounds are inclusive: gamma 0 is cross-entropy, smooth 0 the plain Dice, and a class
    weighted 0 adds nothing to the focal term."""
    logits, target = make_inputs(seed=4)
    assert FocalLoss(gamma=0.0).gamma == 0.0
    dice = SoftDiceLoss(smooth=0.0)(logits, target)
    assert float(dice) == pytest.approx(reference_dice(logits, target, 0.0, False))
    weighted = FocalLoss(gamma=0.0, alpha=[0.0, 1.0, 1.0, 1.0])(logits, target)
    assert float(weighted) == pytest.approx(reference_focal(logits, target, 0.0, [0, 1, 1, 1]))


def test_the_loss_terms_defaults_are_the_reference_preset_s() -> None:
    """`FocalLoss()` and `SoftDiceLoss()` (building blocks with defaults; `FocalDiceLoss` takes
    every setting from `conf/loss/focal_dice.yaml`) are the preset's terms: a default changed in
    one place and not the other fails here."""
    preset = OmegaConf.to_container(OmegaConf.load(Path(CONFIG_DIR) / "loss" / "focal_dice.yaml"))
    assert preset.pop("_target_") == "drone_seg.models.losses.FocalDiceLoss"
    configured = FocalDiceLoss(**preset)
    focal, dice = FocalLoss(), SoftDiceLoss()
    assert (focal.gamma, focal.alpha, focal.ignore_index) == (
        configured.focal.gamma, configured.focal.alpha, configured.focal.ignore_index,
    )  # fmt: skip
    assert (dice.smooth, dice.log_loss, dice.ignore_index) == (
        configured.dice.smooth, configured.dice.log_loss, configured.dice.ignore_index,
    )  # fmt: skip
    logits, target = make_inputs(seed=13)
    torch.testing.assert_close(focal(logits, target), configured.focal(logits, target))
    torch.testing.assert_close(dice(logits, target), configured.dice(logits, target))


def test_the_ignore_index_reaches_both_terms() -> None:
    """With `ignore_index=3`, pixels labelled 3 are skipped by the focal and the Dice term alike:
    the loss is the default loss of the same target with those pixels marked 255."""
    logits, target = make_inputs(c=5, seed=14)
    target[target == IGNORE_INDEX] = 3
    assert (target == 3).any()
    relabelled = target.masked_fill(target == 3, IGNORE_INDEX)
    for focal_weight, dice_weight in [(1.0, 0.0), (0.0, 1.0), (0.4, 0.6)]:
        weights = {"focal_weight": focal_weight, "dice_weight": dice_weight}
        custom = focal_dice(**weights, ignore_index=3)(logits, target)
        default = focal_dice(**weights)(logits, relabelled)
        torch.testing.assert_close(custom, default)


def test_a_class_on_a_single_pixel_is_present_in_the_dice_mean() -> None:
    logits, target = make_inputs(c=4, num_target_classes=3, seed=15)
    target[0, 0, 0] = 3  # class 3 on one pixel
    for log_loss in (False, True):
        loss = SoftDiceLoss(smooth=0.5, log_loss=log_loss)(logits, target)
        assert loss.item() == pytest.approx(
            reference_dice(logits, target, 0.5, log_loss), rel=1e-10
        )


def test_focal_of_a_single_labelled_pixel_is_that_pixels_loss() -> None:
    logits, target = make_inputs(seed=16)
    target.fill_(IGNORE_INDEX)
    target[1, 2, 3] = 2
    expected = -F.log_softmax(logits[1, :, 2, 3], dim=0)[2]
    torch.testing.assert_close(FocalLoss(gamma=0.0)(logits, target), expected)
