"""Tiling geometry on worked examples: where tiles start, the blend window's values and device,
and which tile settings are refused (the band tests compare against these same functions, so
they cannot catch a wrong start or window on their own)."""

from __future__ import annotations

import math

import pytest
import torch

from drone_seg.inference.predictor import Tiling, blend_window, size_pair, tile_starts


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "starts"),
    [
        (10, 4, 1, [0, 3, 6]),  # 3 apart, the last flush with the end
        (10, 4, 0, [0, 4, 6]),
        (5, 4, 0, [0, 1]),
        (4, 4, 2, [0]),  # one tile fits exactly
        (3, 4, 1, [0]),  # the image is smaller than a tile
        (9, 3, 0, [0, 3, 6]),  # no duplicate start when tiles fit exactly
    ],
)
def test_tiles_start_tile_minus_overlap_apart_and_end_flush(
    length: int, tile: int, overlap: int, starts: list[int]
) -> None:
    assert tile_starts(length, tile, overlap) == starts


def test_the_blend_window_is_a_hann_window_at_pixel_centres() -> None:
    low, high = math.sin(math.pi / 8) ** 2, math.sin(3 * math.pi / 8) ** 2
    expected = torch.tensor([0.5, 0.5])[:, None] * torch.tensor([low, high, high, low])[None, :]
    window = blend_window(2, 4, torch.device("cpu"))
    assert window.dtype == torch.float32
    torch.testing.assert_close(window, expected)


def test_the_blend_window_is_made_on_the_models_device() -> None:
    assert blend_window(3, 5, torch.device("meta")).device == torch.device("meta")


@pytest.mark.parametrize(
    ("size", "overlap", "scale"), [((1, 1), 0, 1.0), ((4, 6), 3, 0.25), ((8, 8), 0, 1.5)]
)
def test_valid_tilings_are_accepted(size: tuple[int, int], overlap: int, scale: float) -> None:
    assert Tiling(size, overlap, scale).size == size


def test_sizes_are_height_width_pairs_from_an_int_or_a_list() -> None:
    assert size_pair(96) == (96, 96)
    assert size_pair([96, 160]) == (96, 160)
    assert size_pair(("96", 160.0)) == (96, 160)  # as YAML or a CLI override may give them


def test_a_tiling_is_read_from_its_config_node() -> None:
    tiling = Tiling.from_config({"size": [96, "128"], "overlap": "16", "scale": "0.5"})
    assert tiling == Tiling((96, 128), 16, 0.5)
    assert isinstance(tiling.overlap, int) and isinstance(tiling.scale, float)
    assert Tiling.from_config({"size": 64, "overlap": 0, "scale": 1}).size == (64, 64)
