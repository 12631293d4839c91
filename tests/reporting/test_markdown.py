"""The one Markdown table writer: its exact layout, alignment marks and escaping."""

from __future__ import annotations

import pytest

from drone_seg.reporting.markdown import markdown_table


def test_a_table_is_header_marks_and_rows_with_right_aligned_columns_marked() -> None:
    table = markdown_table(["class", "Dice"], [["road", "0.5000"], ["car", "n/a"]], "lr")
    assert table == ("| class | Dice |\n| --- | ---: |\n| road | 0.5000 |\n| car | n/a |")


def test_columns_are_left_aligned_unless_told_and_a_pipe_in_a_cell_is_escaped() -> None:
    table = markdown_table(["run", "error"], [["1", "a | b"]])
    assert table.splitlines() == ["| run | error |", "| --- | --- |", "| 1 | a \\| b |"]


def test_an_alignment_of_another_width_than_the_header_is_refused() -> None:
    with pytest.raises(ValueError, match="align 'l' has 1 letters for 2 columns"):
        markdown_table(["a", "b"], [], "l")
