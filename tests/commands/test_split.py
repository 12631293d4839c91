import numpy as np
import pytest

from drone_seg.data.splitting.stratify import group_split, pixel_split, stratified_split


def random_presence(num_images: int, seed: int = 0) -> np.ndarray:
    """Presence table with common, medium and rare classes, like drone data."""
    rng = np.random.default_rng(seed)
    rates = np.array([0.95, 0.3, 0.1, 0.5, 0.05, 0.08, 0.1, 0.2, 0.4, 0.9, 0.6, 0.5])
    return rng.random((num_images, rates.size)) < rates


@pytest.mark.parametrize("num_images", [10, 101, 1000])
def test_val_size_is_exactly_the_rounded_fraction(num_images: int) -> None:
    is_val = stratified_split(random_presence(num_images), 0.2, seed=1)
    assert is_val.sum() == round(0.2 * num_images)


def test_every_class_with_five_images_lands_in_both_subsets() -> None:
    presence = random_presence(1000)
    is_val = stratified_split(presence, 0.2, seed=3)
    for label in np.flatnonzero(presence.sum(axis=0) >= 5):
        assert presence[is_val, label].any() and presence[~is_val, label].any()


def test_class_shares_follow_the_fraction_better_than_chance() -> None:
    presence = random_presence(1000)
    is_val = stratified_split(presence, 0.2, seed=3)
    share = presence[is_val].sum(axis=0) / presence.sum(axis=0)
    assert np.abs(share - 0.2).max() < 0.02


def test_same_seed_same_split_other_seed_other_split() -> None:
    presence = random_presence(300)
    first = stratified_split(presence, 0.2, seed=7)
    assert np.array_equal(first, stratified_split(presence, 0.2, seed=7))
    assert not np.array_equal(first, stratified_split(presence, 0.2, seed=8))


def test_a_class_in_two_images_gets_one_on_each_side() -> None:
    presence = random_presence(100)
    presence[:, 4] = False
    presence[[10, 70], 4] = True
    for seed in range(5):
        is_val = stratified_split(presence, 0.2, seed)
        assert presence[is_val, 4].sum() == 1


def random_counts(num_images: int, seed: int = 0) -> np.ndarray:
    """Pixel counts whose object sizes vary over two orders of magnitude."""
    rng = np.random.default_rng(seed)
    sizes = np.exp(rng.uniform(0, np.log(100), (num_images, 12)))
    return (random_presence(num_images, seed) * sizes * 50).astype(np.int64)


def test_pixel_split_keeps_the_exact_size_and_balances_pixels() -> None:
    counts = random_counts(500)
    is_val = pixel_split(counts, 0.2, seed=0)
    assert is_val.sum() == 100
    share = counts[is_val].sum(axis=0) / counts.sum(axis=0)
    presence_share = counts[stratified_split(counts > 0, 0.2, 0)].sum(axis=0) / counts.sum(axis=0)
    assert np.abs(share - 0.2).max() < np.abs(presence_share - 0.2).max()
    assert np.abs(share - 0.2).max() < 0.02


def test_group_split_never_cuts_a_group_and_lands_near_the_fraction() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(3, 40, 120)
    groups = np.repeat(np.arange(120), sizes)
    counts = random_counts(len(groups), seed=1)
    is_val = group_split(counts, groups, 0.2, seed=2)
    assert not set(groups[is_val]) & set(groups[~is_val])
    assert abs(int(is_val.sum()) - round(0.2 * len(groups))) <= np.median(sizes) // 2
    assert np.array_equal(is_val, group_split(counts, groups, 0.2, seed=2))
