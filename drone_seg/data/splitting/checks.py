"""Checks of a train/val split before training: both sides get labelled images, and val holds
every class the split could have given it (a class never in val is never scored)."""

from __future__ import annotations

import logging

import numpy as np

from drone_seg.aeroscapes_layout import TRAIN, VAL
from drone_seg.classes import CLASS_NAMES
from drone_seg.errors import ConfigError

log = logging.getLogger(__name__)


def check_not_empty(subset: np.ndarray, codes: tuple[int, ...], source: str) -> None:
    """The subsets in `codes` (0 train, 1 val) must each get at least one image."""
    for code in codes:
        if not (subset == code).any():
            name = ("train", "val")[code]
            raise ConfigError(
                f"{source} puts no image in {name}: change it so that {name} gets some"
            )


def check_labelled_subsets(
    counts: np.ndarray, subset: np.ndarray, codes: tuple[int, ...], source: str
) -> None:
    """The subsets in `codes` (0 train, 1 val) must each hold a labelled pixel: a val side with
    none scores nothing, a train side with none learns nothing."""
    for code in codes:
        if not counts[subset == code].any():
            name = ("train", "val")[code]
            raise ConfigError(
                f"{source} puts {int((subset == code).sum())} images in {name} but none of their "
                f"masks holds a labelled pixel: change the split so that {name} gets labelled ones"
            )


def check_val_classes(
    counts: np.ndarray, subset: np.ndarray, units: np.ndarray, source: str, fix: str
) -> None:
    """Val must hold every class that the split could have given it.

    `units` names the indivisible unit of each image (itself, or its sequence): a class found in
    two or more units but in no val image is an error; in a single unit, only a warning, since no
    split can put it on both sides. A class missing from train is a warning.
    """
    for label, name in enumerate(CLASS_NAMES):
        holders = (counts[:, label] > 0) & (subset >= 0)
        in_val, in_train = (holders & (subset == VAL)).any(), (holders & (subset == TRAIN)).any()
        spread = len(set(units[holders]))
        if not in_val and spread >= 2:
            raise ConfigError(
                f"class {name} is in {int(holders.sum())} images but {source} puts none in val, "
                f"so it could not be scored: {fix}"
            )
        if not in_val and spread == 1:
            log.warning("Class %s is in a single image or sequence, in train: not scored", name)
        if in_val and not in_train:
            log.warning("Class %s is in val but not in train: it is never learned", name)
