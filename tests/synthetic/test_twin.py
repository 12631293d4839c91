"""The renderer's defaults as an AeroScapes twin: flight lengths, classes allotted to flights,
and a rendered set's label statistics within the bounds of issue 25 against AeroScapes' own."""

from __future__ import annotations

import numpy as np
import pytest

from drone_seg.aeroscapes_reference import APART, FLIGHT_LENGTHS
from drone_seg.classes import CLASS_NAMES
from drone_seg.data.aeroscapes_compare import THINGS, TwinErrors
from drone_seg.data.label_profile import LabelProfile
from drone_seg.data.layout import find_samples
from drone_seg.errors import ConfigError
from drone_seg.synthetic import generate_dataset, plan_sequences
from drone_seg.synthetic.cast import (
    AEROSCAPES_MIX,
    SEEN,
    allot,
    cast_flights,
    class_mix,
    flight_lengths,
)

# The demo set (conf/data/synthetic.yaml): what a user trains on first. About 40 s to render.
TWIN = {"num_images": 400, "width": 480, "height": 272, "seed": 0}


@pytest.mark.parametrize("num_images", [1, 37, 400, 3269])
def test_flight_lengths_are_aeroscapes_and_hold_the_images(num_images: int) -> None:
    lengths = flight_lengths(num_images, np.random.default_rng(num_images))
    assert sum(lengths) == num_images and min(lengths) >= 1
    assert set(lengths[:-1]) <= set(FLIGHT_LENGTHS)


def test_flight_lengths_follow_aeroscapes_distribution() -> None:
    lengths = np.array(flight_lengths(100_000, np.random.default_rng(0))[:-1])
    reference = np.array(FLIGHT_LENGTHS)
    steps = np.unique(reference)
    ours = (lengths[:, None] <= steps).mean(0)
    assert np.abs(ours - (reference[:, None] <= steps).mean(0)).max() < 0.02
    assert lengths.mean() == pytest.approx(reference.mean(), rel=0.05)


def test_allot_reaches_the_target_and_keeps_given_and_barred_flights() -> None:
    lengths = [5, 1, 8, 2, 13, 3, 7, 4]
    for seed in range(20):
        chosen = allot(lengths, 12.0, {2}, {4}, np.random.default_rng(seed))
        assert 2 in chosen and 4 not in chosen
        assert abs(sum(lengths[i] for i in chosen) - 12) <= 1
    assert allot(lengths, 0.4, set(), set(), np.random.default_rng(3)) == set()
    assert allot(lengths, 0.6, set(), set(), np.random.default_rng(3)) == {1}


@pytest.mark.parametrize("num_images", [400, 3269])
def test_cast_shares_follow_the_mix_and_keep_classes_apart(num_images: int) -> None:
    rng = np.random.default_rng(7)
    lengths = flight_lengths(num_images, rng)
    casts = cast_flights(lengths, AEROSCAPES_MIX, rng)
    for name, share in AEROSCAPES_MIX.items():
        aim = min(1.0, share / SEEN.get(name, 1.0))  # a flight's frames do not all show it
        held = sum(n for n, cast in zip(lengths, casts, strict=True) if name in cast) / num_images
        assert abs(np.log2(held / aim)) < 0.3, (name, held, aim)
    for cast in casts:
        assert "car" not in cast or "road" in cast
        assert not any(pair <= cast for pair in APART), cast


def test_class_mix_overrides_shares_and_names_a_bad_key() -> None:
    assert class_mix({"boat": 0.5})["boat"] == 0.5
    assert class_mix(None) == dict(AEROSCAPES_MIX)
    with pytest.raises(ConfigError, match=r"^class_mix\.whale: not one of boat, animal"):
        class_mix({"whale": 0.1})
    with pytest.raises(ConfigError, match=r"^class_mix\.boat=1\.5: expected a share from 0 to 1$"):
        class_mix({"boat": 1.5})


def test_oblique_flights_are_those_cast_with_sky() -> None:
    plans = plan_sequences(400, 0)
    assert all((plan.view == "oblique") == ("sky" in plan.cast) for plan in plans)
    assert [len(plan.image_ids) for plan in plans] == [plan.frame_count for plan in plans]
    assert all(sum(plan.shots) == plan.frame_count and max(plan.shots) <= 5 for plan in plans)


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> LabelProfile:
    """The label profile of a set rendered with the renderer's defaults."""
    root = tmp_path_factory.mktemp("twin") / "set"
    generate_dataset(root, **TWIN)
    samples = find_samples(root, "JPEGImages", "SegmentationClass")
    return LabelProfile.of_files(samples.ids, samples.mask_paths)


@pytest.mark.slow  # renders the default 400-image set (make test-all)
def test_default_set_has_aeroscapes_image_shares_and_areas(twin: LabelProfile) -> None:
    errors = TwinErrors.of(twin)
    for label, error in (("image share", errors.share), ("mean area", errors.area)):
        worst = CLASS_NAMES[int(np.argmax(error))]
        assert error.mean() <= 0.2, f"{label}: mean abs log2 {error.mean():.3f}"
        assert error.max() <= 0.5, f"{label}: {worst} at abs log2 {error.max():.3f}"


@pytest.mark.slow  # renders the default 400-image set (make test-all)
def test_default_set_has_aeroscapes_thing_boxes(twin: LabelProfile) -> None:
    factors = TwinErrors.of(twin).box[THINGS]
    assert (factors <= 1.5).all(), dict(zip(np.array(CLASS_NAMES)[THINGS], factors, strict=True))


@pytest.mark.slow  # renders the default 400-image set (make test-all)
def test_default_set_has_aeroscapes_flights_and_oblique_share(twin: LabelProfile) -> None:
    assert sum(twin.flight_lengths) == TWIN["num_images"]
    assert set(twin.flight_lengths) - set(FLIGHT_LENGTHS) <= {min(twin.flight_lengths)}
    assert 12 <= twin.image_share[CLASS_NAMES.index("sky")] <= 21
