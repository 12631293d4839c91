"""Benchmark rows as a Markdown table and as a JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def markdown_table(rows: list[Row]) -> str:
    """One row per configuration; columns are the keys in first-seen order but the suite (the
    table's heading), blanks where a row lacks one. Floats keep three significant figures."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns and key != "suite"]
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" if c in ("name", "network") else "---:" for c in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in columns) + " |")
    return "\n".join(lines)


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
