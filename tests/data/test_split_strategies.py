"""Split strategies on a 1,000-image, 100-sequence dataset: sizes, class coverage, sequences kept
whole, determinism, the split file and report, the official lists and `data.split_file`; and the
splitting functions on in-memory count tables, worked examples with known answers (fast enough
for `make mutation` to run per mutant)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from drone_seg.aeroscapes_layout import write_official_lists
from drone_seg.classes import CLASS_NAMES, NUM_CLASSES
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.data.splitting.assignment import (
    official_assignment,
    read_split_file,
    sequence_of,
    stratified_assignment,
    write_split_file,
)
from drone_seg.data.splitting.checks import (
    check_labelled_subsets,
    check_not_empty,
    check_val_classes,
)
from drone_seg.data.splitting.split_report import (
    format_deviation,
    pixel_shares,
    share_deviation,
    split_report,
    worst_class,
)
from drone_seg.data.splitting.stratify import (
    balance_features,
    best_step,
    choose_subset,
    class_targets,
    group_split,
    imbalance,
    local_search,
    pixel_split,
    stratified_split,
)
from drone_seg.errors import ConfigError, DataError

from helpers.cli import run_command
from helpers.datasets import frame_ids, scene_masks, write_dataset
from helpers.shipped import data_options


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 64x48 images in 100 sequences of 10 frames, AeroScapes layout."""
    root = tmp_path_factory.mktemp("big") / "aeroscapes"
    return write_dataset(root, scene_masks(sequences=100, frames=10), frame_ids(100, 10))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def split_of(root: Path, cache_dir: Path, **options) -> DroneDataModule:
    """A set-up datamodule on `root` (no transforms, no workers)."""
    datamodule = DroneDataModule(
        **data_options(root, cache_dir=str(cache_dir), num_workers=0, **options)
    )
    datamodule.setup("fit")
    return datamodule


@pytest.mark.parametrize("strategy", ["presence", "pixels"])
def test_stratified_splits_are_exactly_800_200_with_every_class_on_both_sides(
    big_root: Path, cache_dir: Path, strategy: str
) -> None:
    datamodule = split_of(big_root, cache_dir, split=strategy)
    assert (len(datamodule.train_ids), len(datamodule.val_ids)) == (800, 200)
    counts, subset = datamodule.source.stats.counts, datamodule.source.subset
    for label in np.flatnonzero((counts > 0).sum(axis=0) >= 5):
        assert (counts[subset == 0, label] > 0).any() and (counts[subset == 1, label] > 0).any()


def test_sequence_split_keeps_sequences_whole(big_root: Path, cache_dir: Path) -> None:
    datamodule = split_of(big_root, cache_dir, split="sequence")
    train = {sequence_of(i) for i in datamodule.train_ids}
    val = {sequence_of(i) for i in datamodule.val_ids}
    assert not train & val
    assert len(train | val) == 100
    assert 160 <= len(datamodule.val_ids) <= 240


def test_pixels_balances_class_pixels_better_than_presence(big_root: Path, cache_dir: Path) -> None:
    worst = {}
    for strategy in ("presence", "pixels"):
        datamodule = split_of(big_root, cache_dir, split=strategy)
        _, deviation = worst_class(datamodule.source.stats.counts, datamodule.source.subset)
        worst[strategy] = abs(deviation)
        assert f"{100 * deviation:+.1f}%" in datamodule.split_report
    assert worst["pixels"] < worst["presence"] / 2, worst


@pytest.mark.parametrize("strategy", ["presence", "pixels", "sequence"])
def test_same_seed_same_file_other_seed_other_file(
    big_root: Path, cache_dir: Path, tmp_path: Path, strategy: str
) -> None:
    files = []
    for run, seed in enumerate((5, 5, 6)):
        datamodule = split_of(big_root, cache_dir, split=strategy, split_seed=seed)
        files.append(tmp_path / f"run{run}" / "split.csv")
        report = datamodule.write_split(files[-1])
        assert report == files[-1].with_name("split_report.md") and report.is_file()
    texts = [f.read_text() for f in files]
    assert texts[0].startswith("image,subset\n") and texts[0].count("\n") == 1001
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_split_command_writes_the_file_training_writes(
    big_root: Path, cache_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "sequence.csv"
    command = [
        "drone_seg.split", f"data.root={big_root}",
        "data.split=sequence", "data.split_seed=3", f"data.cache_dir={cache_dir}",
        f"split_file={out}",
    ]  # fmt: skip
    result = run_command(*command, cwd=tmp_path, expect_ok=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Largest deviation" in result.stdout and "| drone |" in result.stdout
    assert out.with_name("sequence_report.md").is_file()
    expected = tmp_path / "expected.csv"
    split_of(big_root, cache_dir, split="sequence", split_seed=3).write_split(expected)
    assert out.read_text() == expected.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "expected.csv",
        "expected_report.md",
        "out",
    ]


def test_split_file_reproduces_a_written_split(
    big_root: Path, cache_dir: Path, tmp_path: Path
) -> None:
    original = split_of(big_root, cache_dir, split="pixels", split_seed=11)
    original.write_split(tmp_path / "split.csv")
    reused = split_of(big_root, cache_dir, split="presence", split_file=str(tmp_path / "split.csv"))
    assert reused.train_ids == original.train_ids and reused.val_ids == original.val_ids
    assert "data.split_file=" in reused.split_report


def small_root(tmp_path: Path, sequences: int = 4, frames: int = 5) -> Path:
    """A 20-image dataset whose masks all hold background and vegetation only."""
    masks = np.zeros((sequences * frames, 8, 8), np.uint8)
    masks[:, :4] = 9
    return write_dataset(tmp_path / "small", masks, frame_ids(sequences, frames))


def test_official_split_reads_imagesets(tmp_path: Path) -> None:
    root = small_root(tmp_path)
    (root / "ImageSets").mkdir()
    ids = frame_ids(4, 5)
    (root / "ImageSets" / "trn.txt").write_text("\n".join(ids[:15]) + "\n")
    (root / "ImageSets" / "val.txt").write_text("\n".join(ids[15:]) + "\n")
    datamodule = split_of(root, tmp_path / "cache", split="official")
    assert datamodule.train_ids == ids[:15] and datamodule.val_ids == ids[15:]


def test_official_split_without_lists_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.split=official needs .*trn.txt"):
        split_of(small_root(tmp_path), tmp_path / "cache", split="official")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,set\n", "header image,subset"),
        ("image,subset\n000000_000,test\n", "line 2: expected image,train or image,val"),
        ("image,subset\n999999_000,val\n", "line 2: image 999999_000 is not in the dataset"),
        ("image,subset\n000000_000,val\n000000_000,train\n", "line 3: .* listed twice"),
    ],
)
def test_bad_split_files_name_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as caught:
        split_of(small_root(tmp_path), tmp_path / "cache", split_file=str(path))
    assert str(path) in str(caught.value)


# ---- The splitting functions on in-memory tables (no dataset on disk). ----


def count_table(sequences: int = 30, frames: int = 4, seed: int = 0) -> np.ndarray:
    """(images, classes) pixel counts of `scene_masks`' small 16x24 masks, sequence-major."""
    masks = scene_masks(sequences, frames, height=16, width=24, seed=seed)
    return np.stack([np.bincount(mask.ravel(), minlength=NUM_CLASSES) for mask in masks])


def both_sides_hold_every_splittable_class(presence: np.ndarray, is_val: np.ndarray) -> bool:
    """Whether each class held by two or more rows is held by a train row and a val row."""
    splittable = presence.sum(axis=0) >= 2
    return bool(
        presence[is_val][:, splittable].any(axis=0).all()
        and presence[~is_val][:, splittable].any(axis=0).all()
    )


@pytest.mark.parametrize("fraction", [0.2, 0.35])
def test_presence_split_has_the_exact_val_size_and_every_class_on_both_sides(
    fraction: float,
) -> None:
    counts = count_table()
    is_val = stratified_split(counts > 0, fraction, seed=1)
    assert is_val.dtype == bool and is_val.sum() == round(fraction * len(counts))
    assert both_sides_hold_every_splittable_class(counts > 0, is_val)
    np.testing.assert_array_equal(stratified_split(counts > 0, fraction, seed=1), is_val)
    assert not np.array_equal(stratified_split(counts > 0, fraction, seed=2), is_val)


def test_a_class_on_two_images_goes_once_to_each_side() -> None:
    """However small the val share, a class held by two images is wanted once in val."""
    presence = np.zeros((10, 3), bool)
    presence[:, 0] = True
    presence[[3, 8], 1] = True
    for seed in range(5):
        is_val = stratified_split(presence, 0.1, seed)
        assert is_val.sum() == 1 and is_val[[3, 8]].sum() == 1


def test_class_targets_are_shares_clipped_to_one_on_each_side_for_splittable_classes() -> None:
    counts = np.array([[2, 0, 5], [0, 0, 3], [1, 4, 0]])  # classes on 2, 1 and 2 units
    wanted = class_targets(counts, np.array([0.75, 0.25]))
    # Shares [[2.25, 3, 6], [0.75, 1, 2]]; columns 0 and 2 clipped to [1, total - 1].
    np.testing.assert_allclose(wanted, [[2.0, 3.0, 6.0], [1.0, 1.0, 2.0]])


def test_choose_subset_prefers_room_then_need_then_most_room() -> None:
    rng = np.random.default_rng(0)
    need = np.array([[0.9, 0.0], [0.1, 0.0]])
    assert choose_subset(np.array([5, 0]), need[::-1], 1, 0, rng) == 0  # only train has room
    assert choose_subset(np.array([3, 4]), need, 3, 0, rng) == 0  # exactly enough room counts
    assert choose_subset(np.array([2, 5]), need, 3, 0, rng) == 1
    assert choose_subset(np.array([5, 5]), need[::-1], 1, 0, rng) == 1  # val needs class 0 more
    assert choose_subset(np.array([5, 3]), need[::-1], 1, None, rng) == 0  # no class: most room
    assert choose_subset(np.array([5, 3]), need[::-1], 1, 1, rng) == 0  # a tie in need: room
    assert choose_subset(np.array([0, 1]), need, 2, 0, rng) == 1  # none fits: the fullest quota


def test_balance_features_are_images_pixels_and_all_pixels_each_summing_to_one() -> None:
    images = np.array([[1, 0, 0], [1, 1, 0]])
    pixels = np.array([[10, 0, 0], [30, 5, 0]])
    features = balance_features(images, pixels)
    expected = [[0.5, 0.0, 0.25, 0.0, 10 / 45], [0.5, 1.0, 0.75, 1.0, 35 / 45]]
    np.testing.assert_allclose(features, expected)  # the absent class's columns are left out


def test_local_search_swaps_then_moves_within_the_size_tolerance() -> None:
    features = np.array([[0.6], [0.15], [0.15], [0.1]])
    no_classes = np.zeros((4, 0), bool)
    sizes = np.ones(4, dtype=np.int64)
    start = np.array([True, False, False, False])
    # Val should hold a quarter of the column: swapping 0.6 for 0.15 is the best step, then
    # (if val may grow by one unit) adding 0.1 reaches exactly 0.25.
    swapped = local_search(features, no_classes, sizes, start, tolerance=0)
    np.testing.assert_array_equal(swapped, [False, True, False, False])
    moved = local_search(features, no_classes, sizes, start, tolerance=1, target=1)
    np.testing.assert_array_equal(moved, [False, True, False, True])
    np.testing.assert_array_equal(start, [True, False, False, False])  # the input is kept


def test_best_step_moves_a_unit_out_of_or_into_val_when_the_tolerance_allows() -> None:
    """Four equal units, val should hold half of a size column: from three in val the best step
    moves one out, from one it moves one in (the first such unit, or the first that is not a
    class's last holder on its side); when no move keeps val's size at its target, none."""
    features = np.full((4, 1), 0.25)
    sizes = np.ones(4, dtype=np.int64)
    no_classes = np.zeros((4, 0), bool)
    three, one = np.array([True, True, True, False]), np.array([True, False, False, False])
    assert best_step(features, no_classes, sizes, three, 0.5, 1, 2) == (0,)
    assert best_step(features, no_classes, sizes, one, 0.5, 1, 2) == (1,)
    assert best_step(features, no_classes, sizes, three, 0.5, 0, 3) is None
    assert best_step(features, no_classes, sizes, one, 0.5, 0, 1) is None
    last = np.array([[True, False], [False, False], [False, True], [False, True]])
    assert best_step(features, last, sizes, three, 0.5, 1, 2) == (1,)  # 0: last val holder
    only_train = np.array([[True], [True], [False], [False]])
    assert best_step(features, only_train, sizes, one, 0.5, 1, 2) == (2,)  # 1: last train holder


def test_local_search_never_takes_a_splittable_classs_last_unit_from_a_side() -> None:
    features = np.array([[0.6], [0.15], [0.15], [0.1]])
    presence = np.array([[True], [False], [True], [False]])  # one class, on units 0 and 2
    sizes = np.ones(4, dtype=np.int64)
    start = np.array([True, False, False, False])
    result = local_search(features, presence, sizes, start, tolerance=0)
    np.testing.assert_array_equal(result, [False, False, True, False])
    train_side = local_search(features, presence, sizes, ~start, tolerance=0)
    assert train_side[[0, 2]].sum() == 1  # the class keeps a train unit and a val unit


def test_pixel_split_balances_pixels_better_than_presence_at_the_same_size() -> None:
    counts = count_table(sequences=50, frames=4, seed=7)
    presence = stratified_split(counts > 0, 0.25, seed=0)
    pixels = pixel_split(counts, 0.25, seed=0)
    assert pixels.sum() == presence.sum() == 50
    assert both_sides_hold_every_splittable_class(counts > 0, pixels)
    _, before = worst_class(counts, presence.astype(int))
    _, after = worst_class(counts, pixels.astype(int))
    assert abs(after) < abs(before) / 2


def test_group_split_keeps_groups_whole_at_the_exact_size() -> None:
    counts = count_table(sequences=30, frames=4, seed=5)
    groups = np.repeat(np.arange(30), 4)
    is_val = group_split(counts, groups, 0.2, seed=4)
    per_group = is_val.reshape(30, 4)
    assert (per_group.all(axis=1) | ~per_group.any(axis=1)).all()
    assert is_val.sum() == 24  # six whole groups of four
    group_presence = (counts > 0).reshape(30, 4, -1).any(axis=1)
    assert both_sides_hold_every_splittable_class(group_presence, per_group[:, 0])
    assert not np.array_equal(group_split(counts, groups, 0.2, seed=5), is_val)


def test_group_split_of_unequal_groups_stays_within_half_a_median_group() -> None:
    counts = count_table(sequences=30, frames=4, seed=6)
    sizes = np.resize([1, 2, 3, 4, 6], 30)
    groups = np.repeat(np.arange(30), sizes)[: len(counts)]
    is_val = group_split(counts[: len(groups)], groups, 0.3, seed=0)
    for group in np.unique(groups):
        assert len(set(is_val[groups == group])) == 1
    assert abs(int(is_val.sum()) - round(0.3 * len(groups))) <= 1


def sparse_table(units: int, seed: int) -> np.ndarray:
    """(units, 6) pixel counts: a common class, and five rarer ones often held by a single pixel."""
    rng = np.random.default_rng(seed)
    held = rng.random((units, 6)) < [1, 0.5, 0.3, 0.2, 0.2, 0.1]
    counts = rng.integers(1, 500, (units, 6)) * held
    single = rng.random((units, 6)) < 0.3
    counts[single] = np.minimum(counts[single], 1)
    return counts


def improving_steps(features, presence, sizes, is_val, tolerance: int, target: int) -> list:
    """Every swap of a val and a train unit, or move of one unit, that keeps val's size within
    `tolerance` of `target` and every splittable class on both sides, and lowers the imbalance."""
    share = target / sizes.sum()
    now = imbalance(features, is_val, share)
    val, train = np.flatnonzero(is_val), np.flatnonzero(~is_val)
    steps = [(i, j) for i in val for j in train] + [(i,) for i in range(len(sizes))]
    better = []
    for step in steps:
        flipped = is_val.copy()
        flipped[list(step)] = ~flipped[list(step)]
        if abs(int(sizes[flipped].sum()) - target) > tolerance:
            continue
        if not both_sides_hold_every_splittable_class(presence, flipped):
            continue
        if imbalance(features, flipped, share) < now - 1e-12:
            better.append(step)
    return better


@pytest.mark.parametrize("seed", range(4))
def test_pixel_split_is_a_swap_local_minimum_of_the_exact_size(seed: int) -> None:
    """The pixel split holds exactly round(0.4 x 12) images, every class two images hold on each
    side, and no swap keeping that lowers the imbalance of class images, pixels and all pixels."""
    counts = sparse_table(12, seed)
    presence = counts > 0
    is_val = pixel_split(counts, 0.4, seed)
    assert is_val.sum() == 5
    assert both_sides_hold_every_splittable_class(presence, is_val)
    features = balance_features(presence, counts)
    assert improving_steps(features, presence, np.ones(12, int), is_val, 0, 5) == []


@pytest.mark.parametrize("seed", range(3))
def test_group_split_is_a_local_minimum_within_half_a_median_group(seed: int) -> None:
    """Ten groups of four images: val is four groups give or take half a group (two images),
    holds every class two groups hold on each side, the same for the same seed, and no swap or
    move of groups within that size lowers the imbalance (class images and pixels per group,
    all pixels, and group sizes)."""
    counts = sparse_table(40, seed)
    groups = np.repeat(np.arange(10), 4)
    is_val = group_split(counts, groups, 0.4, seed)
    np.testing.assert_array_equal(group_split(counts, groups, 0.4, seed), is_val)
    by_group = is_val.reshape(10, 4)
    assert (by_group.all(axis=1) | ~by_group.any(axis=1)).all()
    assert abs(int(is_val.sum()) - 16) <= 2
    group_counts = counts.reshape(10, 4, -1).sum(axis=1)
    group_images = (counts > 0).reshape(10, 4, -1).sum(axis=1)
    assert both_sides_hold_every_splittable_class(group_images > 0, by_group[:, 0])
    sizes = np.full(10, 4)
    features = np.concatenate(
        [balance_features(group_images, group_counts), np.full((10, 1), 0.1)], axis=1
    )
    assert improving_steps(features, group_images > 0, sizes, by_group[:, 0], 2, 16) == []


def test_sequence_of_takes_the_id_before_the_frame_number() -> None:
    assert sequence_of("000123_004") == "000123"
    assert sequence_of("site_a_12") == "site_a"
    assert sequence_of("frame") == "frame" and sequence_of("frame_x") == "frame_x"


def test_each_strategy_is_its_stratification_as_subset_codes(caplog) -> None:
    counts = count_table(sequences=10, frames=4)
    ids = frame_ids(10, 4)
    presence = stratified_assignment("presence", ids, counts, 0.25, 3)
    assert presence.dtype == np.int64
    np.testing.assert_array_equal(presence, stratified_split(counts > 0, 0.25, 3))
    np.testing.assert_array_equal(
        stratified_assignment("pixels", ids, counts, 0.25, 3), pixel_split(counts, 0.25, 3)
    )
    sequences = np.repeat(np.arange(10), 4)
    np.testing.assert_array_equal(
        stratified_assignment("sequence", ids, counts, 0.25, 3),
        group_split(counts, sequences, 0.25, 3),
    )
    assert "SEQUENCE_FRAME" not in caplog.text
    stratified_assignment("sequence", [f"img{i}" for i in range(40)], counts, 0.25, 3)
    assert [record.getMessage() for record in caplog.records] == [
        "No image id has the form SEQUENCE_FRAME: each image is its own sequence"
    ]
    with pytest.raises(ValueError, match=r"^no stratified split 'random'"):
        stratified_assignment("random", ids, counts, 0.25, 3)


def test_official_lists_round_trip_and_their_errors(tmp_path: Path) -> None:
    ids = ["a_1", "a_2", "b_1", "b_2", "c_1"]
    subset = np.array([0, 1, -1, 0, 1])
    train, val = tmp_path / "data" / "sets" / "trn.txt", tmp_path / "data" / "sets" / "val.txt"
    with pytest.raises(ValueError):
        write_official_lists(ids, subset[:3], train, val)
    write_official_lists(ids, subset, train, val)
    assert train.read_text() == "a_1\nb_2\n" and val.read_text() == "a_2\nc_1\n"
    np.testing.assert_array_equal(official_assignment(ids, train, val), subset)
    val.write_text("a_2\na_1\n")
    with pytest.raises(DataError, match=rf"^id a_1 is listed in both {train} and {val}$"):
        official_assignment(ids, train, val)
    val.write_text("z_9\n")
    with pytest.raises(DataError, match=rf"^id z_9 listed in {val} has no image/mask pair"):
        official_assignment(ids, train, val)
    val.unlink()
    with pytest.raises(ConfigError, match=rf"^data.split=official needs {val}, which does not"):
        official_assignment(ids, train, val)


def test_split_files_list_train_then_val_and_read_back(tmp_path: Path) -> None:
    ids = ["a_1", "a_2", "b_1", "b_2"]
    path = tmp_path / "new" / "folder" / "split.csv"
    write_split_file(path, ids, np.array([1, 0, -1, 0]))
    assert path.read_bytes() == b"image,subset\na_2,train\nb_2,train\na_1,val\n"  # \n ends
    np.testing.assert_array_equal(read_split_file(path, ids), [1, 0, -1, 0])
    write_split_file(path.with_name("again.csv"), ids, np.array([0, 0, 0, 1]))  # folder exists
    with pytest.raises(ValueError):
        write_split_file(path, ids, np.array([0, 1]))  # one subset per id
    path.write_text(" image , subset \n\n a_1 , val \n")  # blank rows and spaces are fine
    np.testing.assert_array_equal(read_split_file(path, ids), [1, -1, -1, -1])
    path.write_text("")
    with pytest.raises(DataError, match="does not start with the header image,subset"):
        read_split_file(path, ids)
    with pytest.raises(ConfigError, match=rf"^cannot read data.split_file={tmp_path}: "):
        read_split_file(tmp_path, ids)


def test_a_subset_without_images_or_labels_is_refused_by_name() -> None:
    subset = np.array([0, 0, -1])
    check_not_empty(subset, (0,), "data.split=x")
    with pytest.raises(ConfigError, match=r"^data.split=x puts no image in val: change it so"):
        check_not_empty(subset, (0, 1), "data.split=x")
    with pytest.raises(ConfigError, match=r"^src puts no image in train: .* train gets some$"):
        check_not_empty(np.array([1, -1]), (0, 1), "src")
    counts = np.array([[5, 0], [0, 0], [0, 0], [0, 0], [1, 1]])
    subset = np.array([0, 1, 1, 1, -1])
    check_labelled_subsets(counts, subset, (0,), "src")
    with pytest.raises(ConfigError, match=r"^src puts 3 images in val but none of their masks"):
        check_labelled_subsets(counts, subset, (0, 1), "src")
    with pytest.raises(ConfigError, match=r"so that train gets labelled ones$"):
        check_labelled_subsets(counts, np.array([1, 0, 0, 0, 1]), (0, 1), "src")


def test_val_must_hold_each_class_that_two_units_hold(caplog) -> None:
    counts = np.zeros((5, NUM_CLASSES), dtype=np.int64)
    counts[:, 0] = 1
    units = np.array(["s1", "s1", "s2", "s3", "s4"])
    counts[[0, 1], 5] = 1  # boat: a pixel in two images of one sequence, both in train
    counts[4, 6] = 1  # animal: val only
    subset = np.array([0, 0, 0, 1, 1])
    check_val_classes(counts, subset, units, "src", "fix it")
    assert caplog.messages == [
        "Class boat is in a single image or sequence, in train: not scored",
        "Class animal is in val but not in train: it is never learned",
    ]
    counts[2, 5] = 1  # now in a second sequence, still train only
    with pytest.raises(ConfigError, match=r"^class boat is in 3 images but src puts none in val"):
        check_val_classes(counts, subset, units, "src", "fix it")
    subset[2] = -1  # left out: no longer counts as a holder
    check_val_classes(counts, subset, units, "src", "fix it")


def test_pixel_shares_deviation_and_worst_class_on_a_worked_example() -> None:
    counts = np.array([[6, 2, 0, 0], [2, 0, 0, 0], [3, 3, 0, 2], [9, 9, 9, 9]])
    subset = np.array([0, 0, 1, -1])  # train pixels [8, 2, 0, 0]; val pixels [3, 3, 0, 2]
    np.testing.assert_allclose(pixel_shares(counts[:2]), [0.8, 0.2, 0.0, 0.0])
    np.testing.assert_array_equal(pixel_shares(np.zeros((2, 3))), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(pixel_shares(np.array([[0, 1, 0]])), [0.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a class missing from train is a value, not a warning
        deviation = share_deviation(counts, subset)
    np.testing.assert_allclose(deviation[:2], [0.375 / 0.8 - 1, 0.375 / 0.2 - 1])
    assert np.isnan(deviation[2]) and np.isinf(deviation[3])
    assert worst_class(counts[:3, :2], subset[:3]) == (1, pytest.approx(1.5))
    shares = np.array([[10, 10, 20], [1, 5, 14]])  # train [.25, .25, .5], val [.05, .25, .7]
    assert worst_class(shares, np.array([0, 1])) == (0, pytest.approx(-0.8))  # largest |value|
    label, value = worst_class(np.zeros((3, 2)), subset[:3])
    assert label == 0 and np.isnan(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [(float("nan"), "n/a"), (float("inf"), "only in val"), (0.25, "+25.0%"), (-0.1, "-10.0%")],
)
def test_deviations_read_as_signed_percentages(value: float, text: str) -> None:
    assert format_deviation(value) == text


def test_the_split_report_counts_images_shares_and_the_worst_class() -> None:
    counts = np.zeros((5, NUM_CLASSES), dtype=np.int64)
    counts[:, 0] = [6, 8, 4, 2, 1]
    counts[[0, 2], 5] = [2, 4]  # boat: 2 of 18 train pixels, 4 of 8 val pixels
    report = split_report(counts, np.array([0, 0, 1, 0, -1]), "Split of data")
    lines = report.splitlines()
    assert lines[:3] == [
        "## Split of data",
        "",
        "3 train and 1 val images (25.0% val); 1 left out.",
    ]
    assert "| background | 3 | 1 | 88.889 | 50.000 | -43.8% |" in lines  # 0.5 / (16/18) - 1
    assert "| boat | 1 | 1 | 11.111 | 50.000 | +350.0% |" in lines  # 0.5 / (2/18) - 1
    assert "| sky | 0 | 0 | 0.000 | 0.000 | n/a |" in lines
    assert (
        lines[-1] == "Largest deviation of a class's val pixel share from train's: boat, +350.0%."
    )
    assert report.endswith(".\n")
    alone = split_report(counts[:2], np.array([0, 0]), "T")
    assert "2 train and 0 val images (0.0% val)." in alone


def test_the_split_report_is_a_markdown_table_counting_images_with_any_pixel() -> None:
    counts = np.zeros((1, NUM_CLASSES), dtype=np.int64)
    counts[0, [0, 5]] = 1  # one pixel of each: the image holds both classes
    rows = [f"| {name} | 0 | 0 | 0.000 | 0.000 | n/a |" for name in CLASS_NAMES[1:]]
    rows[4] = "| boat | 0 | 1 | 0.000 | 50.000 | only in val |"
    assert split_report(counts, np.array([1]), "One").splitlines() == [
        "## One",
        "",
        "0 train and 1 val images (100.0% val).",
        "",
        "| class | train images | val images | train pixels % | val pixels % | val vs train |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        "| background | 0 | 1 | 0.000 | 50.000 | only in val |",
        *rows,
        "",
        "Largest deviation of a class's val pixel share from train's: background, only in val.",
    ]
    assert "| boat | 1 | 0 |" in split_report(counts, np.array([0]), "One")
