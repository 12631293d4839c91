"""The one Markdown table writer: every table the project writes (scores, sweeps, ablations,
benchmarks) goes through `markdown_table`, so they all share one layout."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], align: str | None = None
) -> str:
    """A Markdown table of `header` and `rows` (cells already text; `|` escaped so that a cell
    cannot split its row). `align` has one letter per column, `l` or `r`; left by default."""
    marks = [{"l": "---", "r": "---:"}[letter] for letter in (align or "l" * len(header))]
    if len(marks) != len(header):
        raise ValueError(f"align {align!r} has {len(marks)} letters for {len(header)} columns")
    lines = [_row(header), _row(marks)]
    lines += [_row(cells) for cells in rows]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
