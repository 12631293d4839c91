"""Label profiles (image share, mean area, median box, flight lengths), the errors against
AeroScapes' reference table, and `python -m drone_seg.stats compare=aeroscapes`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from drone_seg.aeroscapes_reference import AEROSCAPES, FLIGHT_LENGTHS, THING_CLASSES
from drone_seg.classes import CLASS_NAMES
from drone_seg.data.aeroscapes_compare import TwinErrors, comparison_text
from drone_seg.data.label_profile import LabelProfile, mask_figures

from helpers.cli import run_command
from helpers.datasets import write_dataset

PERSON, CAR, SKY = (CLASS_NAMES.index(name) for name in ("person", "car", "sky"))


def test_reference_table_covers_every_class_and_aeroscapes_flights() -> None:
    assert tuple(AEROSCAPES) == CLASS_NAMES
    assert len(FLIGHT_LENGTHS) == 141 and sum(FLIGHT_LENGTHS) == 3269
    assert (min(FLIGHT_LENGTHS), max(FLIGHT_LENGTHS)) == (1, 125)
    assert set(THING_CLASSES) < set(CLASS_NAMES)


def test_mask_figures_give_area_and_box_per_class() -> None:
    mask = np.zeros((10, 20), np.uint8)
    mask[2:4, 5:8] = PERSON  # 6 pixels, box 2 x 3
    mask[9, 0] = PERSON  # the box spans both: rows 2..9, columns 0..7
    mask[0, 19] = 255  # ignored pixels belong to no class
    figures = mask_figures(mask)
    assert figures[PERSON] == pytest.approx([100 * 7 / 200, 100 * 8 / 10, 100 * 8 / 20])
    assert figures[0, 0] == pytest.approx(100 * 192 / 200)
    assert np.isnan(figures[CAR]).all()


def test_profile_counts_images_flights_and_medians() -> None:
    masks = np.zeros((3, 10, 10), np.uint8)
    masks[0, :5, :2] = PERSON  # area 10%, box 50 x 20
    masks[1, :1, :1] = PERSON  # area 1%, box 10 x 10
    masks[2, :, :] = SKY
    profile = LabelProfile.measure(["000004_000", "000004_001", "000009_000"], masks)
    assert profile.images == 3 and profile.flight_lengths == (1, 2)
    assert profile.image_share[[0, PERSON, SKY, CAR]] == pytest.approx(
        [200 / 3, 200 / 3, 100 / 3, 0]
    )
    assert profile.mean_area[PERSON] == pytest.approx(5.5)
    assert (profile.box_height[PERSON], profile.box_width[PERSON]) == pytest.approx((30.0, 15.0))
    assert np.isnan(profile.mean_area[CAR]) and np.isnan(profile.box_height[CAR])


def reference_profile(**changes: np.ndarray) -> LabelProfile:
    """A profile with AeroScapes' own figures, some replaced."""
    figures = {
        key: np.array([getattr(f, key) for f in AEROSCAPES.values()])
        for key in ("image_share", "mean_area", "box_height", "box_width")
    }
    return LabelProfile(100, **{**figures, **changes}, flight_lengths=FLIGHT_LENGTHS)


def test_errors_are_log2_ratios_and_box_factors() -> None:
    assert TwinErrors.of(reference_profile()).share == pytest.approx(np.zeros(12))
    share = np.array([f.image_share for f in AEROSCAPES.values()])
    share[CAR] *= 2
    share[SKY] = 0.0
    height = np.array([f.box_height for f in AEROSCAPES.values()])
    height[PERSON] /= 1.5
    errors = TwinErrors.of(reference_profile(image_share=share, box_height=height))
    assert errors.share[CAR] == pytest.approx(1.0) and errors.share[SKY] == np.inf
    assert errors.box[PERSON] == pytest.approx(1.5) and errors.box[CAR] == pytest.approx(1.0)
    assert np.isnan(errors.box[SKY]) and errors.area == pytest.approx(np.zeros(12))


def test_comparison_text_lists_every_class_and_the_summary() -> None:
    share = np.array([f.image_share for f in AEROSCAPES.values()])
    share[CAR] /= 2
    text = comparison_text(reference_profile(image_share=share), "mine")
    assert text.splitlines()[0].startswith("mine (100 images) beside AeroScapes (github.com/")
    assert (
        "| car | 30.74 | 15.37 | 1.00 | 1.200 | 1.200 | 0.00 | 17.8 x 12.3 | 17.8 x 12.3 |" in text
    )
    assert "| sky | 15.91 | 15.91 | 0.00 | 28.766 | 28.766 | 0.00 | - | - | - |" in text
    assert "image share: mean abs log2 0.083, worst 1.000 (car)" in text
    assert "thing boxes: worst factor 1.00" in text
    assert "flights, ours:       141 flights, frames min 1 / 25% 3 / median 7 / 75% 39 /" in text


def stats(root: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m drone_seg.stats data.root=root` with overrides."""
    command = ["drone_seg.stats", f"data.root={root}", *overrides]
    return run_command(*command, cwd=root.parent, expect_ok=False)


def test_stats_command_compares_a_dataset_with_aeroscapes(tmp_path: Path) -> None:
    masks = np.zeros((4, 20, 40), np.uint8)
    masks[:, 10:, :] = CLASS_NAMES.index("road")
    masks[:2, :2, :4] = PERSON  # 2 of 4 images, 1% area, box 10 x 10
    ids = ["000001_000", "000001_001", "000001_002", "000002_000"]
    root = write_dataset(tmp_path / "data", masks, ids)
    result = stats(root, "compare=aeroscapes", f"data.cache_dir={tmp_path / 'cache'}")
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert f"\n{root} (4 images) beside AeroScapes (github.com/" in out
    assert (
        "| person | 79.44 | 50.00 | 0.67 | 0.506 | 1.000 | 0.98 | 19.4 x 7.0 | 10.0 x 10.0 | 1.94 |"
        in out
    )
    assert "| road | 85.78 | 100.00 | 0.22 | 34.120 | 50.000 | 0.55 | - | - | - |" in out
    assert "| car | 30.74 | 0.00 | inf | 1.200 | n/a | inf | 17.8 x 12.3 | n/a x n/a | inf |" in out
    assert re.search(r"^flights, ours: +2 flights, frames min 1 / .* / max 3$", out, re.MULTILINE)
    bad = stats(root, "compare=coco", f"data.cache_dir={tmp_path / 'cache'}")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("error: compare=coco must be one of")
