"""The ablation table: a multirun's runs grouped by their `ablation=` arm, mean and spread per arm.

Each run's best epoch (its `metrics.json`) gives val/dice (12-class macro mean), val/dice_fg
(the 11 foreground classes) and the small-class mean (person, bike, drone, boat, animal, obstacle:
the mean of their val/dice_<class>). A class whose Dice is undefined in a run (absent from both
prediction and target of the whole val set, stored as null) is left out of that run's small-class
mean. Spread is the sample standard deviation over the arm's seeds.
"""

from __future__ import annotations

import csv
import logging
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from drone_seg.classes import SMALL_CLASSES
from drone_seg.reporting.markdown import markdown_table
from drone_seg.runs.run_dir import RunDir
from drone_seg.runs.sweep import run_dirs

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("val/dice", "val/dice_fg", "small")


@dataclass(frozen=True)
class ArmScores:
    """One arm's finished runs: the per-run values of each column, and how many runs failed."""

    arm: str
    values: dict[str, list[float]]
    failed: int


def small_class_mean(metrics: dict[str, float]) -> float:
    """Mean val/dice over the six small classes defined in this run (NaN if none is)."""
    values = [metrics.get(f"val/dice_{name}", math.nan) for name in SMALL_CLASSES]
    defined = [value for value in values if not math.isnan(value)]
    return sum(defined) / len(defined) if defined else math.nan


def arm_of(overrides: Iterable[str]) -> str | None:
    """The value of the `ablation=` override, or None for a run outside the ablation."""
    for override in overrides:
        key, _, value = override.partition("=")
        if key == "ablation":
            return value
    return None


def collect_arms(sweep_dir: Path) -> list[ArmScores]:
    """Every arm of the multirun under `sweep_dir`, in the order its runs were launched."""
    values: dict[str, dict[str, list[float]]] = {}
    failed: dict[str, int] = {}
    for run_dir in run_dirs(sweep_dir):
        run = RunDir(run_dir)
        arm = arm_of(str(o) for o in OmegaConf.load(run.overrides))
        if arm is None:
            continue
        columns = values.setdefault(arm, {column: [] for column in COLUMNS})
        failed.setdefault(arm, 0)
        metrics = run.read_metrics()
        if run.error.is_file() or "val/dice" not in metrics:
            failed[arm] += 1
            continue
        scores = {**metrics, "small": small_class_mean(metrics)}
        for column in COLUMNS:
            columns[column].append(float(scores.get(column, math.nan)))
    return [ArmScores(arm, columns, failed[arm]) for arm, columns in values.items()]


def mean_and_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN spread for fewer than two values)."""
    defined = [value for value in values if not math.isnan(value)]
    if not defined:
        return math.nan, math.nan
    spread = statistics.stdev(defined) if len(defined) > 1 else math.nan
    return statistics.fmean(defined), spread


def ablation_rows(arms: list[ArmScores]) -> list[dict[str, str]]:
    """One row per arm: runs, failed, and `mean ± std` of each column to three decimals."""
    rows = []
    for arm in arms:
        row = {"arm": arm.arm, "runs": str(len(arm.values["val/dice"])), "failed": str(arm.failed)}
        for column in COLUMNS:
            mean, spread = mean_and_spread(arm.values[column])
            row[column] = _cell(mean, spread)
        rows.append(row)
    return rows


def _cell(mean: float, spread: float) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.3f}" if math.isnan(spread) else f"{mean:.3f} ± {spread:.3f}"


def write_ablation_table(rows: list[dict[str, str]], sweep_dir: Path) -> str:
    """Write `ablation.csv` and `ablation.md` in `sweep_dir`; return the Markdown table."""
    columns = ["arm", "runs", "failed", *COLUMNS]
    with (sweep_dir / "ablation.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    table = markdown_table(columns, [[row[column] for column in columns] for row in rows])
    (sweep_dir / "ablation.md").write_text(table + "\n")
    return table


class AblationTable(Callback):
    """Hydra callback: when a multirun ends, write its ablation table (`ablation.md`, `.csv`)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        arms = collect_arms(sweep_dir)
        if not arms:
            log.warning("No run under %s has an ablation= override: no table written", sweep_dir)
            return
        table = write_ablation_table(ablation_rows(arms), sweep_dir)
        print(f"\nAblation table (best epoch of each run, mean ± std over seeds):\n{table}")
