"""Split strategies on a 1,000-image, 100-sequence dataset: sizes, class coverage, sequences kept
whole, determinism, the split file and report, the official lists and `data.split_file`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drone_seg.data.datamodule import DroneDataModule
from drone_seg.data.splitting.assignment import sequence_of
from drone_seg.data.splitting.split_report import worst_class
from drone_seg.errors import ConfigError, DataError

from helpers.datasets import frame_ids, scene_masks, write_dataset

REPO = Path(__file__).resolve().parents[2]


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
    datamodule = DroneDataModule(str(root), cache_dir=str(cache_dir), num_workers=0, **options)
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
        sys.executable, "-m", "drone_seg.split", f"data.root={big_root}",
        "data.split=sequence", "data.split_seed=3", f"data.cache_dir={cache_dir}",
        f"split_file={out}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
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


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"data.split=random is not one of presence"):
        DroneDataModule("unused", split="random")
