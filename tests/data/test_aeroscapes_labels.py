"""What reads labels, on AeroScapes' real label statistics: the twin's fidelity, the split
strategies against the official split, the rare-class sampler's draw rates, class weights, `stats`.

Expected values come from the committed table (`tests/helpers/data/aeroscapes_labels.csv.gz`), not
from the code under test; balance is measured with the table's real areas for the ids each split
puts in val.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from drone_seg.classes import CLASS_NAMES
from drone_seg.data.class_weights import inverse_frequency, median_frequency
from drone_seg.data.samplers import RareClassSampler, SeededTrainSampler

from helpers.aeroscapes_twin import HEIGHT, WIDTH, LabelTable, Twin
from helpers.cli import run_command
from helpers.shipped import data_source

# Images holding each class, as dataset-ninja publishes them in stats/class_balance.json (a file
# apart from the per-image table): they pin the table's class names to drone_seg's ids.
PUBLISHED_IMAGES = {
    "background": 3269,
    "person": 2597,
    "bike": 1264,
    "car": 1005,
    "drone": 410,
    "boat": 66,
    "animal": 100,
    "obstacle": 2150,
    "construction": 1729,
    "vegetation": 2983,
    "road": 2804,
    "sky": 520,
}
VAL_FRACTION = 0.2  # data.val_fraction's default
TEMPERATURE = 0.01  # data.rare_class_temperature's default
STRATIFIED = ("presence", "pixels", "sequence")
SEEDS = (42, 0, 1)  # 42 is the configs' seed
EPOCHS = 5  # of sampler draws: 13,105 draws over the official train side


def class_index(name: str) -> int:
    """The id of class `name`."""
    return CLASS_NAMES.index(name)


def split_of(twin: Twin, strategy: str, seed: int) -> np.ndarray:
    """The twin split by `strategy` through DataSource: "is val" in the table's image order."""
    source = data_source(twin.root, split=strategy, split_seed=seed, cache_dir=str(twin.cache_dir))
    source.make_split()
    val_ids = [i for i, s in zip(source.samples.ids, source.subset, strict=True) if s == 1]
    return np.isin(twin.labels.ids, val_ids)


def deviations(labels: LabelTable, is_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class, |val's share / the whole set's share - 1| of images holding the class and of
    pixels, from the table's real presence and areas."""
    images = labels.present[is_val].mean(axis=0) / labels.present.mean(axis=0)
    areas = labels.fractions
    pixels = areas[is_val].sum(axis=0) / is_val.sum() / areas.mean(axis=0)
    return np.abs(images - 1), np.abs(pixels - 1)


def pixel_shares(labels: LabelTable, rows: np.ndarray) -> np.ndarray:
    """Each class's share of the labelled pixels of the images `rows`, from the table."""
    areas = labels.fractions[rows].sum(axis=0)
    return areas / areas.sum()


def class_draw_probabilities(labels: LabelTable, rows: np.ndarray) -> np.ndarray:
    """DAFormer's rare-class probabilities, exp((1 - pixel share) / T) normalized, of `rows`."""
    logits = (1 - pixel_shares(labels, rows)) / TEMPERATURE
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


@pytest.fixture(scope="module")
def val_of(aeroscapes_twin: Twin) -> Callable[[str, int], np.ndarray]:
    """`split_of` on the twin, each (strategy, seed) computed once per module."""
    return functools.cache(functools.partial(split_of, aeroscapes_twin))


@pytest.fixture(scope="module")
def twin_counts(aeroscapes_twin: Twin) -> np.ndarray:
    """(images, classes) pixel counts of the twin as the project's scan reads them, table order."""
    source = data_source(aeroscapes_twin.root, cache_dir=str(aeroscapes_twin.cache_dir))
    samples, stats = source.scan()
    assert samples.ids == aeroscapes_twin.labels.ids
    return stats.counts


def test_the_table_is_aeroscapes_and_the_twin_holds_each_images_real_areas(
    aeroscapes_twin: Twin, twin_counts: np.ndarray
) -> None:
    """The table matches AeroScapes' published counts, and the scan of the twin finds each image's
    classes and areas: what every other test here reads."""
    labels = aeroscapes_twin.labels
    published = [PUBLISHED_IMAGES[name] for name in CLASS_NAMES]
    assert labels.present.sum(axis=0).tolist() == published
    assert (len(labels.ids), len(set(labels.flights)), int(labels.official_val.sum())) == (
        3269,
        141,
        648,
    )
    assert ((twin_counts > 0) == labels.present).all()
    assert (twin_counts.sum(axis=1) == HEIGHT * WIDTH).all()
    # Within 0.05% of the image (the table's resolution is 0.01%, a pixel 0.011%).
    assert np.abs(twin_counts / (HEIGHT * WIDTH) - labels.fractions).max() < 5e-4


def test_the_official_split_is_read_from_imagesets_and_keeps_flights_whole(
    aeroscapes_twin: Twin, val_of: Callable[[str, int], np.ndarray]
) -> None:
    """`official` reads ImageSets/trn.txt and val.txt; the reference it gives is flight-wise, like
    `sequence`, and holds every class in val."""
    labels = aeroscapes_twin.labels
    is_val = val_of("official", 42)
    assert (is_val == labels.official_val).all()
    assert not set(labels.flights[is_val]) & set(labels.flights[~is_val])
    assert labels.present[is_val].any(axis=0).all()


@pytest.mark.parametrize("strategy", STRATIFIED)
def test_a_split_puts_every_class_in_val_at_the_val_fraction(
    aeroscapes_twin: Twin, val_of: Callable[[str, int], np.ndarray], strategy: str
) -> None:
    """Val gets round(0.2 x 3,269) = 654 images (`sequence`: within half a median flight, and no
    flight on both sides), and both sides get all 12 classes."""
    labels = aeroscapes_twin.labels
    is_val = val_of(strategy, 42)
    target = round(VAL_FRACTION * len(labels.ids))
    if strategy == "sequence":
        flights = labels.flights
        assert not set(flights[is_val]) & set(flights[~is_val])
        half_flight = int(np.median(np.unique(flights, return_counts=True)[1])) // 2
        assert abs(int(is_val.sum()) - target) <= half_flight
    else:
        assert is_val.sum() == target
    assert labels.present[is_val].any(axis=0).all()
    assert labels.present[~is_val].any(axis=0).all()


@pytest.mark.parametrize("strategy", STRATIFIED)
def test_stratified_splits_are_at_least_as_balanced_as_the_official_split(
    aeroscapes_twin: Twin, val_of: Callable[[str, int], np.ndarray], strategy: str
) -> None:
    """Worst and mean class deviations, of images and pixels, against the official split's
    (flight-wise: drone's image share 0.80 off, bike's pixel share 0.79 off)."""
    labels = aeroscapes_twin.labels
    official_images, official_pixels = deviations(labels, labels.official_val)
    for seed in SEEDS:
        images, pixels = deviations(labels, val_of(strategy, seed))
        assert images.max() <= official_images.max(), (seed, images)
        assert pixels.max() <= official_pixels.max(), (seed, pixels)
        assert images.mean() <= official_images.mean(), (seed, images)
        assert pixels.mean() <= official_pixels.mean(), (seed, pixels)
        if strategy != "sequence":
            assert images.max() < 0.1, (seed, images)
        if strategy == "pixels":
            assert pixels.max() < 0.05, (seed, pixels)


def draws(sampler: SeededTrainSampler, epochs: int) -> Iterator[int]:
    """The image indices the sampler yields over `epochs` epochs."""
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        yield from (index for index, _ in sampler)


def test_rare_class_sampler_follows_the_real_pixel_shares(
    aeroscapes_twin: Twin, twin_counts: np.ndarray
) -> None:
    """Class probabilities are exp((1 - share) / T) of the table's pixel shares (official train)."""
    labels = aeroscapes_twin.labels
    train = ~labels.official_val
    counts = twin_counts[train]
    sampler = RareClassSampler(list(range(len(counts))), counts, seed=0, temperature=TEMPERATURE)
    expected = class_draw_probabilities(labels, train)
    np.testing.assert_allclose(sampler.class_probabilities, expected, rtol=0.02, atol=1e-9)


def test_rare_class_sampler_draws_each_class_at_the_rate_the_real_counts_give(
    aeroscapes_twin: Twin, twin_counts: np.ndarray
) -> None:
    """Rate of images holding class k = sum over c of P(c) x share of c's images holding k (the
    table's co-occurrence); boat and animal images come 9.4 and 6.0 times as often as uniformly."""
    labels = aeroscapes_twin.labels
    train = ~labels.official_val
    present = labels.present[train].astype(float)
    images = list(range(int(train.sum())))
    sampler = RareClassSampler(images, twin_counts[train], seed=0, temperature=TEMPERATURE)
    expected = class_draw_probabilities(labels, train) @ (
        (present.T @ present) / present.sum(axis=0)[:, None]
    )
    drawn = present[list(draws(sampler, EPOCHS))].mean(axis=0)
    uniform = present[list(draws(SeededTrainSampler(images, seed=0), EPOCHS))].mean(axis=0)
    np.testing.assert_allclose(uniform, present.mean(axis=0))
    variance = np.clip(expected * (1 - expected), 0, None)  # background: every image, 0
    standard_error = np.sqrt(variance / (EPOCHS * len(images)))
    assert (np.abs(drawn - expected) <= 4 * standard_error + 1e-9).all(), (drawn, expected)
    for name in ("boat", "animal"):
        assert drawn[class_index(name)] > 5 * uniform[class_index(name)]


def test_class_weights_follow_the_real_pixel_shares(
    aeroscapes_twin: Twin, twin_counts: np.ndarray
) -> None:
    """Inverse frequency: 1 / pixel share; median frequency: median over the class's mean area
    where present (AeroScapes' images are all one size); both mean 1 over the 12 classes."""
    labels = aeroscapes_twin.labels
    inverse = 1 / pixel_shares(labels, np.ones(len(labels.ids), dtype=bool))
    mean_area = labels.fractions.sum(axis=0) / labels.present.sum(axis=0)
    median = np.median(mean_area) / mean_area
    np.testing.assert_allclose(inverse_frequency(twin_counts), inverse / inverse.mean(), rtol=0.01)
    np.testing.assert_allclose(median_frequency(twin_counts), median / median.mean(), rtol=0.01)


def test_stats_command_counts_the_real_images_per_class(aeroscapes_twin: Twin) -> None:
    """`python -m drone_seg.stats` on the twin: images per class as AeroScapes', pixel shares and
    inverse-frequency weights as its areas give."""
    labels = aeroscapes_twin.labels
    result = run_command(
        "drone_seg.stats",
        f"data.root={aeroscapes_twin.root}",
        f"data.cache_dir={aeroscapes_twin.cache_dir}",
    )
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] in CLASS_NAMES:
            rows[cells[0]] = cells[1:]
    assert list(rows) == list(CLASS_NAMES)
    assert [int(rows[name][1]) for name in CLASS_NAMES] == labels.present.sum(axis=0).tolist()
    total = len(labels.ids) * HEIGHT * WIDTH
    assert f"{len(labels.ids)} images, {total} labelled pixels, 0 ignored" in result.stdout
    everything = np.ones(len(labels.ids), dtype=bool)
    pixels = np.array([int(rows[name][0]) for name in CLASS_NAMES])
    np.testing.assert_allclose(pixels / total, pixel_shares(labels, everything), rtol=0.01)
    inverse = 1 / pixel_shares(labels, everything)
    printed = np.array([float(rows[name][2]) for name in CLASS_NAMES])
    np.testing.assert_allclose(printed, inverse / inverse.mean(), rtol=0.01)
