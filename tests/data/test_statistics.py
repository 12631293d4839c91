"""Class statistics and weights: the arithmetic, and `python -m drone_seg.stats`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import yaml

from drone_seg.classes import CLASS_NAMES
from drone_seg.data.class_weights import inverse_frequency, median_frequency

from helpers.cli import run_command
from helpers.datasets import frame_ids, scene_masks, write_dataset


def test_inverse_frequency_weights() -> None:
    counts = np.zeros((2, 12), np.int64)
    counts[0, :3] = [600, 300, 100]
    counts[1, 0] = 0
    weights = inverse_frequency(counts)
    expected = np.array([1 / 0.6, 1 / 0.3, 1 / 0.1])
    assert np.allclose(weights[:3], 3 * expected / expected.sum())
    assert np.allclose(weights[:3].mean(), 1.0) and (weights[3:] == 0).all()


def test_median_frequency_weights() -> None:
    counts = np.zeros((3, 12), np.int64)
    counts[0, [0, 1]] = [90, 10]  # class 1: 10 of the 100 pixels of the one image it is in
    counts[1, [0, 2]] = [50, 50]  # class 2: 50 of 100
    counts[2, 0] = 100  # class 0: 240 of the 300 pixels of the 3 images it is in
    frequency = np.array([240 / 300, 10 / 100, 50 / 100])
    expected = np.median(frequency) / frequency
    weights = median_frequency(counts)
    assert np.allclose(weights[:3], expected / expected.mean())
    assert (weights[3:] == 0).all()


def test_stats_command_prints_counts_and_weight_overrides(tmp_path: Path) -> None:
    masks = scene_masks(4, 5, 24, 32, seed=4)
    root = write_dataset(tmp_path / "data", masks, frame_ids(4, 5))
    command = [
        "drone_seg.stats", f"data.root={root}",
        f"data.cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    result = run_command(*command, cwd=tmp_path, expect_ok=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for label, name in enumerate(CLASS_NAMES):
        pixels, images = int((masks == label).sum()), int((masks == label).any(axis=(1, 2)).sum())
        assert re.search(rf"^\| {name} \| {pixels} \| {images} \| ", out, re.MULTILINE), name
    overrides = re.findall(r"loss\.class_weights=(\[.*\])", out)
    assert len(overrides) == 2
    for text in overrides:
        weights = np.array(yaml.safe_load(text), dtype=float)
        assert weights.shape == (12,)
        present = weights > 0
        assert abs(weights[present].mean() - 1) < 1e-3
