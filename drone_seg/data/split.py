"""Train/val splits stratified on which classes each image contains."""

from __future__ import annotations

import numpy as np

from drone_seg.errors import ConfigError


def stratified_split(presence: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Return a boolean "is val" vector for a multilabel-stratified split of the images.

    `presence` is an (images, classes) boolean table. Iterative stratification (Sechidis et al.,
    2011): the rarest remaining class is distributed first, each of its images going to the subset
    that still needs most of that class. Subsets never exceed their quota, so val holds exactly
    round(val_fraction x images). Seeded and deterministic.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction={val_fraction} must lie strictly between 0 and 1")
    presence = np.asarray(presence, dtype=bool)
    num_images = presence.shape[0]
    rng = np.random.default_rng(seed)
    quota = np.array(
        [num_images - round(val_fraction * num_images), round(val_fraction * num_images)]
    )
    fractions = quota / max(num_images, 1)
    wanted = np.outer(fractions, presence.sum(axis=0)).astype(float)
    subset = np.full(num_images, -1)
    order = rng.permutation(num_images)
    while (subset < 0).any():
        unassigned = order[subset[order] < 0]
        remaining = presence[unassigned].sum(axis=0)
        if remaining.any():
            label = np.flatnonzero(remaining == remaining[remaining > 0].min())
            label = rng.choice(label)
            batch = unassigned[presence[unassigned, label]]
        else:
            batch = unassigned
        for image in batch:
            open_subsets = np.flatnonzero(quota > 0)
            if remaining.any():
                need = wanted[open_subsets, label]
                open_subsets = open_subsets[need == need.max()]
            best = open_subsets[quota[open_subsets] == quota[open_subsets].max()]
            chosen = rng.choice(best)
            subset[image] = chosen
            quota[chosen] -= 1
            wanted[chosen] -= presence[image]
    return subset == 1
