"""Multirun bookkeeping: record a failed run, and tabulate every run of a sweep when it ends.

Each run of a sweep lives in its own directory under `hydra.sweep.dir` (its `.hydra/overrides.yaml`
says what it changed, `.hydra/config.yaml` whether it is a debug run). A run writes `metrics.json`
(its best epoch so far); a run that raised also has `error.txt`. `SweepSummary` reads only those
files, so it works with any launcher, including ones whose jobs run in other processes or on other
machines. A debug run (`debug=fdr`, ...) is a check, not a result: listed as debug, never ranked.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from drone_seg.errors import DroneSegError
from drone_seg.reporting.markdown import markdown_table
from drone_seg.runs.debug import debug_label
from drone_seg.runs.run_dir import RunDir

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """One run of a sweep: its directory (relative to the sweep), overrides and outcome."""

    job: str
    overrides: list[str]
    value: float  # the best epoch's metric; NaN when the run never finished an epoch
    epoch: int | None
    error: str  # empty for a run that completed
    debug: str = ""  # what made it a debug run (`debug=fdr`, ...), empty for a real one

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def ranked(self) -> bool:
        return not (self.failed or self.debug)


def record_failure(error: BaseException, run_dir: Path) -> None:
    """Log `error` (with its traceback unless it is a user error) and write it to `error.txt`."""
    traceback = None if isinstance(error, DroneSegError) else error
    log.error("Run failed (the sweep goes on): %s", error, exc_info=traceback)
    run_dir.mkdir(parents=True, exist_ok=True)
    message = " ".join(f"{type(error).__name__}: {error}".split())
    RunDir(run_dir).error.write_text(message + "\n")


def run_dirs(sweep_dir: Path) -> list[Path]:
    """Every run folder under `sweep_dir` (one holding `.hydra/overrides.yaml`), in job order."""
    return sorted(
        (path.parent.parent for path in sweep_dir.glob("**/.hydra/overrides.yaml")),
        key=lambda path: _job_order(path.relative_to(sweep_dir)),
    )


def collect_runs(sweep_dir: Path, metric: str = "val/dice") -> list[RunResult]:
    """Return every run under `sweep_dir`."""
    return [_read_run(run_dir, sweep_dir, metric) for run_dir in run_dirs(sweep_dir)]


def _job_order(job: Path) -> tuple[bool, int, str]:
    """Numbered job directories (`hydra.job.num`) in numeric order, anything else after them."""
    name = job.as_posix()
    return (not name.isdigit(), int(name) if name.isdigit() else 0, name)


def _read_run(run_dir: Path, sweep_dir: Path, metric: str) -> RunResult:
    run = RunDir(run_dir)
    overrides = [str(o) for o in OmegaConf.load(run.overrides)]
    metrics = run.read_metrics()
    if run.error.is_file():
        error = run.error.read_text().strip()
    elif metric not in metrics:
        error = f"no {metric} in {run.metrics.name} (crashed, killed or not finished)"
    else:
        error = ""
    debug = debug_label(OmegaConf.load(run.config)) if run.config.is_file() else None
    if debug and not run.error.is_file():
        error = ""
    value = float(metrics.get(metric, math.nan))
    job = run_dir.relative_to(sweep_dir).as_posix()
    return RunResult(job, overrides, value, metrics.get("epoch"), error, debug or "")


def ranked(runs: list[RunResult], mode: str = "max") -> list[RunResult]:
    """Return the completed runs best first (by `mode` of their value), then the debug runs, then
    the failed ones."""
    sign = -1.0 if mode == "max" else 1.0
    return sorted(
        runs, key=lambda run: (run.failed, bool(run.debug), sign * run.value if run.ranked else 0.0)
    )


def summary_table(runs: list[RunResult], metric: str = "val/dice") -> list[dict[str, str]]:
    """Return one row per run: rank, job, status, metric, epoch, one column per varied override.

    Overrides common to every run (data paths, sizes) are left out, so the columns are the
    swept parameters; with a single run, all its overrides are kept.
    """
    common = set.intersection(*(set(run.overrides) for run in runs)) if len(runs) > 1 else set()
    rows: list[dict[str, str]] = []
    for rank, run in enumerate(runs, start=1):
        row = {
            "rank": str(rank) if run.ranked else "",
            "job": run.job,
            "status": "failed" if run.failed else "debug" if run.debug else "ok",
            metric: "" if math.isnan(run.value) or not run.ranked else repr(run.value),
            "epoch": "" if run.epoch is None else str(run.epoch),
        }
        for override in run.overrides:
            if override not in common:
                key, _, value = override.partition("=")
                row[key] = value
        note = f"a debug run ({run.debug}): a check, not a result" if run.debug else ""
        rows.append(row | {"error": run.error or note})
    return rows


def write_summary(rows: list[dict[str, str]], sweep_dir: Path) -> str:
    """Write `summary.csv` and `summary.md` in `sweep_dir`; return the Markdown table."""
    columns = list(dict.fromkeys(key for row in rows for key in row if key != "error"))
    columns.append("error")
    with (sweep_dir / "summary.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    cells = [[_markdown_cell(column, row.get(column, "")) for column in columns] for row in rows]
    table = markdown_table(columns, cells)
    (sweep_dir / "summary.md").write_text(table + "\n")
    return table


def _markdown_cell(column: str, value: str) -> str:
    """Metric values to four decimals (`markdown_table` escapes the `|` of error messages)."""
    return f"{float(value):.4f}" if "/" in column and value else value


class SweepSummary(Callback):
    """Hydra callback: when a multirun ends, write `summary.csv` and `summary.md` in its sweep dir.

    One row per run, best `metric` first; a run without the metric (it raised, was killed or is
    unfinished) is listed as failed with its error, so a sweep's failures stay visible; a debug run
    is listed as debug, unranked. When every run failed, the command exits non-zero after writing
    the summary.
    """

    def __init__(self, metric: str, mode: str) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"hydra.callbacks.sweep_summary.mode={mode} must be 'max' or 'min'")
        self.metric = metric
        self.mode = mode

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        runs = ranked(collect_runs(sweep_dir, self.metric), self.mode)
        if not runs:
            log.warning("No runs found under %s: no summary written", sweep_dir)
            return
        table = write_summary(summary_table(runs, self.metric), sweep_dir)
        failed = sum(run.failed for run in runs)
        debug = sum(bool(run.debug) and not run.failed for run in runs)
        debug_note = f", {debug} debug (unranked)" if debug else ""
        print(f"\nSweep summary ({len(runs)} runs, {failed} failed{debug_note}):\n{table}")
        print(f"\nSweep directory: {sweep_dir}")
        if failed == len(runs):
            raise SystemExit(f"error: all {failed} runs failed: see {sweep_dir / 'summary.md'}")
