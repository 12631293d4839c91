"""Stratified train/val assignments of images (or of whole sequences) from per-class statistics.

Pure array code: each function takes per-unit tables and returns a boolean "is val" vector, seeded
and deterministic. `assignment.py` maps config strategies onto them.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

# Local search stops after this many swaps or moves; each one strictly lowers the objective.
MAX_STEPS = 2000
# Seeded starts of the sequence split, the most balanced one kept. On AeroScapes' real labels (40
# seeds), a single start put the 125-frame flight holding 37% of the sky pixels in val 5 times
# (sky's val pixel share +85%); the best of 4 never did (worst class's share off by 28% at most).
GROUP_STARTS = 4


def stratified_split(presence: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Return "is val" for a multilabel-stratified split of images on class presence.

    `presence` is an (images, classes) boolean table; val holds exactly round(val_fraction x
    images). Iterative stratification (Sechidis et al., 2011), see `iterative_stratification`.
    """
    presence = np.asarray(presence, dtype=bool)
    num_images = presence.shape[0]
    sizes = np.ones(num_images, dtype=np.int64)
    return iterative_stratification(presence, sizes, round(val_fraction * num_images), seed)


def iterative_stratification(
    counts: np.ndarray, sizes: np.ndarray, val_size: int, seed: int
) -> np.ndarray:
    """Return "is val" for units (images or sequences) with per-class image `counts` and `sizes`.

    The rarest remaining class is distributed first, each of its units going to the subset that
    still lacks the largest part of what it wants of that class; subsets fill up to their quota of
    images. A class on two or more units is wanted at least once on each side, so small classes
    are not all put in train.
    """
    counts = np.asarray(counts, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    rng = np.random.default_rng(seed)
    quota = np.array([sizes.sum() - val_size, val_size])
    wanted = class_targets(counts, quota / max(sizes.sum(), 1))
    share_of = 1.0 / np.maximum(wanted, 1e-9)
    subset = np.full(len(sizes), -1)
    order = rng.permutation(len(sizes))
    while (subset < 0).any():
        unassigned = order[subset[order] < 0]
        remaining = (counts[unassigned] > 0).sum(axis=0)
        label = None
        batch = unassigned
        if remaining.any():
            label = rng.choice(np.flatnonzero(remaining == remaining[remaining > 0].min()))
            batch = unassigned[counts[unassigned, label] > 0]
        for unit in batch:
            chosen = choose_subset(quota, wanted * share_of, sizes[unit], label, rng)
            subset[unit] = chosen
            quota[chosen] -= sizes[unit]
            wanted[chosen] -= counts[unit]
    return subset == 1


def class_targets(counts: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Per-subset wanted amount of each class: its share, but at least 1 when it can be split."""
    units = (counts > 0).sum(axis=0)
    totals = counts.sum(axis=0).astype(float)
    wanted = np.outer(fractions, totals)
    splittable = units >= 2
    wanted[:, splittable] = np.clip(wanted[:, splittable], 1.0, totals[splittable] - 1.0)
    return wanted


def choose_subset(
    quota: np.ndarray, need: np.ndarray, size: int, label: int | None, rng: np.random.Generator
) -> int:
    """The subset for one unit: one with room, then most `need` of `label`, then most room."""
    candidates = np.flatnonzero(quota >= size)
    if candidates.size == 0:
        candidates = np.flatnonzero(quota == quota.max())
    if label is not None:
        lacking = need[candidates, label]
        candidates = candidates[lacking == lacking.max()]
    room = quota[candidates]
    return int(rng.choice(candidates[room == room.max()]))


def balance_features(images: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Columns whose val share the local search equalizes: per-class images, per-class pixels, all
    pixels. Each column is scaled to sum to 1, so that rare and common classes weigh the same.
    """
    columns = np.concatenate([images, pixels, pixels.sum(axis=1, keepdims=True)], axis=1)
    columns = columns.astype(float)
    totals = columns.sum(axis=0)
    return columns[:, totals > 0] / totals[totals > 0]


def pixel_split(counts: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Return "is val" balancing each class's pixels as well as its images; exact val size.

    Starts from the presence split and swaps train/val image pairs while that lowers the squared
    deviation, per class, of val's share of its images and of its pixels from val's share of images.
    """
    counts = np.asarray(counts, dtype=np.int64)
    is_val = stratified_split(counts > 0, val_fraction, seed)
    sizes = np.ones(len(counts), dtype=np.int64)
    return local_search(
        balance_features(counts > 0, counts), counts > 0, sizes, is_val, tolerance=0
    )


def group_split(
    counts: np.ndarray, groups: np.ndarray, val_fraction: float, seed: int
) -> np.ndarray:
    """Return "is val" keeping every group (sequence) on one side, stratified as groups allow.

    Groups are stratified on their per-class image counts, then refined by swapping and moving
    whole groups; val stays within half a median group of round(val_fraction x images), or as close
    as a start's first assignment got. A large group only swaps with one of about its size, so one
    search can stay stuck with it on the wrong side: the best of `GROUP_STARTS` seeded starts wins.
    """
    counts = np.asarray(counts, dtype=np.int64)
    names, group_of = np.unique(np.asarray(groups), return_inverse=True)
    group_counts = np.zeros((len(names), counts.shape[1]), dtype=np.int64)
    np.add.at(group_counts, group_of, counts)
    group_images = np.zeros_like(group_counts)
    np.add.at(group_images, group_of, (counts > 0).astype(np.int64))
    sizes = np.bincount(group_of, minlength=len(names))
    target = round(val_fraction * len(counts))
    features = np.concatenate(
        [balance_features(group_images, group_counts), sizes[:, None] / sizes.sum()], axis=1
    )
    searched = []
    for start in range(GROUP_STARTS):
        start_seed = int(np.random.SeedSequence([seed, start]).generate_state(1)[0])
        is_val = iterative_stratification(group_images, sizes, target, start_seed)
        tolerance = max(abs(int(sizes[is_val].sum()) - target), int(np.median(sizes)) // 2)
        searched.append(local_search(features, group_images > 0, sizes, is_val, tolerance, target))
    best = min(searched, key=lambda is_val: imbalance(features, is_val, target / sizes.sum()))
    return best[group_of]


def imbalance(features: np.ndarray, is_val: np.ndarray, share: float) -> float:
    """The local search's objective: squared distance of val's feature sums from `share`."""
    return float(((features[is_val].sum(axis=0) - share) ** 2).sum())


def local_search(
    features: np.ndarray,
    presence: np.ndarray,
    sizes: np.ndarray,
    is_val: np.ndarray,
    tolerance: int,
    target: int | None = None,
) -> np.ndarray:
    """Greedily swap (and, with a tolerance, move) units to bring val's column sums to their share.

    The objective is the squared distance between val's sum of each feature column and val's share
    of units, sum(sizes[val]) / sum(sizes) at the start. A step is allowed only if val's size stays
    within `tolerance` of `target` and no class on two or more units loses its last unit on a side.
    """
    is_val = is_val.copy()
    target = int(sizes[is_val].sum()) if target is None else target
    share = target / sizes.sum()
    splittable = presence.sum(axis=0) >= 2
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(MAX_STEPS):
            step = best_step(
                features, presence[:, splittable], sizes, is_val, share, tolerance, target
            )
            if step is None:
                break
            is_val[list(step)] = ~is_val[list(step)]
    return is_val


def best_step(
    features: np.ndarray,
    presence: np.ndarray,
    sizes: np.ndarray,
    is_val: np.ndarray,
    share: float,
    tolerance: int,
    target: int,
) -> tuple[int, ...] | None:
    """The units to flip in the step that lowers the objective most, or None at a local minimum."""
    val, train = np.flatnonzero(is_val), np.flatnonzero(~is_val)
    residual = features[val].sum(axis=0) - share
    fv, ft = features[val], features[train]
    leave = (fv * fv).sum(axis=1) - 2 * fv @ residual
    join = (ft * ft).sum(axis=1) + 2 * ft @ residual
    swap_gain = leave[:, None] + join[None, :] - 2 * fv @ ft.T
    val_size = int(sizes[val].sum())
    new_size = val_size - sizes[val][:, None] + sizes[train][None, :]
    swap_gain[np.abs(new_size - target) > tolerance] = np.inf
    for label in range(presence.shape[1]):
        holders_val, holders_train = presence[val, label], presence[train, label]
        if holders_val.sum() == 1:
            swap_gain[np.ix_(holders_val, ~holders_train)] = np.inf
            leave[holders_val] = np.inf
        if holders_train.sum() == 1:
            swap_gain[np.ix_(~holders_val, holders_train)] = np.inf
            join[holders_train] = np.inf
    leave[np.abs(val_size - sizes[val] - target) > tolerance] = np.inf
    join[np.abs(val_size + sizes[train] - target) > tolerance] = np.inf
    gains = [swap_gain.min(initial=np.inf), leave.min(initial=np.inf), join.min(initial=np.inf)]
    best = int(np.argmin(gains))
    if not gains[best] < -1e-12:
        return None
    if best == 0:
        i, j = np.unravel_index(np.argmin(swap_gain), swap_gain.shape)
        return int(val[i]), int(train[j])
    if best == 1:
        return (int(val[np.argmin(leave)]),)
    return (int(train[np.argmin(join)]),)
