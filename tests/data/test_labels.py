"""Datasets with nothing to learn are refused at start-up in one line: masks without a labelled
pixel, or a split whose val (or train) side has none; class weights stay defined and quiet."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

from drone_seg.data.class_weights import inverse_frequency, median_frequency, stats_text
from drone_seg.data.source import DataSource
from drone_seg.errors import ConfigError, DataError

from helpers.cli import run_command
from helpers.datasets import frame_ids, scene_masks, write_dataset
from helpers.shipped import data_source

IDS = frame_ids(4, 5)


def source_of(root: Path, tmp_path: Path, **options: str) -> DataSource:
    return data_source(root, cache_dir=str(tmp_path / "cache"), **options)


@pytest.fixture
def unlabelled_root(tmp_path: Path) -> Path:
    """20 masks holding only the ignore label 255."""
    return write_dataset(tmp_path / "data", np.full((20, 24, 32), 255, np.uint8), IDS)


def test_masks_without_a_labelled_pixel_are_refused(unlabelled_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds a labelled pixel") as caught:
        source_of(unlabelled_root, tmp_path).make_split()
    message = str(caught.value)
    assert str(unlabelled_root / "SegmentationClass") in message and "\n" not in message


def test_the_stats_command_refuses_them_in_one_line(unlabelled_root: Path, tmp_path: Path) -> None:
    command = [
        "drone_seg.stats", f"data.root={unlabelled_root}",
        f"data.cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    result = run_command(*command, cwd=tmp_path, expect_ok=False)
    assert result.returncode != 0 and "class_weights" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: no mask of the 20 in ") and "Traceback" not in result.stderr
    assert "Warning" not in result.stderr


@pytest.fixture
def half_labelled_root(tmp_path: Path) -> Path:
    """Sequences 0-1 labelled, sequences 2-3 only 255."""
    masks = scene_masks(4, 5, 24, 32, seed=1)
    masks[10:] = 255
    return write_dataset(tmp_path / "data", masks, IDS)


def split_file(tmp_path: Path, val: list[str]) -> Path:
    path = tmp_path / "split.csv"
    rows = "".join(f"{i},{'val' if i in val else 'train'}\n" for i in IDS)
    path.write_text("image,subset\n" + rows)
    return path


def test_a_val_side_without_a_labelled_pixel_is_refused(
    half_labelled_root: Path, tmp_path: Path
) -> None:
    split = split_file(tmp_path, IDS[15:])
    source = source_of(half_labelled_root, tmp_path, split_file=str(split))
    with pytest.raises(ConfigError, match="puts 5 images in val but none of their masks") as caught:
        source.make_split(check_classes=False)  # also for evaluation alone
    assert f"data.split_file={split}" in str(caught.value)


def test_a_train_side_without_a_labelled_pixel_is_refused(
    half_labelled_root: Path, tmp_path: Path
) -> None:
    split = split_file(tmp_path, IDS[:10])
    source = source_of(half_labelled_root, tmp_path, split_file=str(split))
    with pytest.raises(ConfigError, match="puts 10 images in train but none of their masks"):
        source.make_split()
    source_of(half_labelled_root, tmp_path, split_file=str(split)).make_split(check_classes=False)


def test_some_unlabelled_masks_are_only_a_warning(
    half_labelled_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    split = split_file(tmp_path, IDS[5:10] + IDS[15:])
    with caplog.at_level(logging.WARNING):
        source_of(half_labelled_root, tmp_path, split_file=str(split)).make_split(
            check_classes=False
        )
    assert f"10 masks hold no labelled pixel (only 255, ignored), e.g. {half_labelled_root}" in (
        caplog.text
    )


def test_weights_of_absent_classes_are_zero_and_quiet() -> None:
    counts = np.zeros((3, 12), np.int64)
    counts[0, [0, 5]] = [80, 20]
    counts[2, 5] = 50  # image 1 is all ignored
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inverse, median = inverse_frequency(counts), median_frequency(counts)
        text = stats_text(counts, 1000, Path("data"))
    for weights in (inverse, median):
        assert np.isfinite(weights).all() and (weights[[1, 2, 3, 4, 6, 7, 8, 9, 10, 11]] == 0).all()
        assert np.isclose(weights[[0, 5]].mean(), 1.0) and weights[0] != weights[5]
    assert "nan" not in text and "inf" not in text


def test_weights_without_any_labelled_pixel_are_an_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for weights in (inverse_frequency, median_frequency):
            with pytest.raises(DataError, match="no labelled pixel"):
                weights(np.zeros((4, 12), np.int64))
