"""Run-length encoding: the documented pixel order on a worked example, exact round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from drone_seg.inference import rle

masks = st.tuples(st.integers(1, 24), st.integers(1, 24)).flatmap(
    lambda shape: arrays(np.bool_, shape)
)


def test_runs_are_row_major_one_indexed_and_cross_row_ends() -> None:
    mask = np.array(
        [
            [0, 1, 1, 0],
            [0, 0, 0, 1],
            [1, 0, 0, 0],
        ],
        dtype=bool,
    )
    assert rle.encode(mask) == "2 2 8 2"
    assert rle.encode(np.zeros((3, 4), bool)) == ""
    assert rle.encode(np.ones((3, 4), bool)) == "1 12"


@given(masks)
def test_decode_inverts_encode(mask: np.ndarray) -> None:
    decoded = rle.decode(rle.encode(mask), mask.shape)
    assert decoded.dtype == bool
    np.testing.assert_array_equal(decoded, mask)


@pytest.mark.parametrize("text", ["1", "0 2", "11 3", "3 -1"])
def test_decode_rejects_encodings_that_do_not_fit(text: str) -> None:
    with pytest.raises(ValueError, match="run-length encoding"):
        rle.decode(text, (3, 4))
