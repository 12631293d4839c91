"""Benchmark rows as a Markdown table and as a JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drone_seg.reporting.markdown import markdown_table

Row = dict[str, Any]


def results_table(rows: list[Row]) -> str:
    """One row per configuration; columns are the keys in first-seen order but the suite (the
    table's heading), blanks where a row lacks one. Floats keep three significant figures."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns and key != "suite"]
    align = "".join("l" if column in ("name", "network") else "r" for column in columns)
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    return markdown_table(columns, cells, align)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def write_json(
    path: Path,
    suites: list[str],
    settings: dict[str, Any],
    machine: dict[str, Any],
    rows: list[Row],
) -> Path:
    """Write the run's rows with its settings and machine; a new file, never an old one replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"suites": suites, "machine": machine, "settings": settings, "rows": rows}
    with path.open("x") as file:
        json.dump(document, file, indent=2)
        file.write("\n")
    return path
