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


def test_any_non_zero_label_is_set_whatever_its_value() -> None:
    """A class-id mask encodes as its non-zero pixels: neighbouring labels 2 and 1 are one run."""
    labels = np.array([[0, 2, 1, 0], [3, 3, 0, 7]], dtype=np.uint8)
    assert rle.encode(labels) == "2 2 5 2 8 1"
    assert rle.encode(labels) == rle.encode(labels != 0)


def test_zero_length_runs_decode_to_no_pixel() -> None:
    """Some encoders write empty runs; they set nothing and are not an error."""
    np.testing.assert_array_equal(rle.decode("1 0 4 0 12 0", (3, 4)), np.zeros((3, 4), bool))
    np.testing.assert_array_equal(rle.decode("3 0 2 1", (1, 4)), [[False, True, False, False]])


def test_errors_quote_a_bounded_prefix_and_the_mask_height_by_width() -> None:
    """An odd encoding is quoted by its first 40 characters only (a submission line can be
    megabytes); a run past the end names the mask as height x width."""
    odd = " ".join(["1"] * 41)
    with pytest.raises(ValueError) as error:
        rle.decode(odd, (3, 4))
    assert str(error.value).endswith(f": {odd[:40]!r}")
    with pytest.raises(ValueError, match="outside a 3x4 mask"):
        rle.decode("12 2", (3, 4))
