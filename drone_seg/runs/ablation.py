"""The ablation table: a multirun's runs grouped by their `ablation=` arm, each against the recipe.

Each run's best epoch (its `metrics.json`) gives val/dice (12-class macro mean), val/dice_fg
(the 11 foreground classes) and the small-class mean (person, bike, drone, boat, animal, obstacle:
the mean of their val/dice_<class>). A class whose Dice is undefined in a run (absent from both
prediction and target of the whole val set, stored as null) is left out of that run's small-class
mean. Per arm: mean ± sample standard deviation over its seeds; for val/dice and small, every arm
but the recipe also gets its per-seed differences from the recipe (paired by the run's seed), their
mean and 95% t-interval, and whether that interval excludes 0 (drone_seg/runs/paired.py).
"""

from __future__ import annotations

import csv
import logging
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from drone_seg.classes import SMALL_CLASSES
from drone_seg.reporting.markdown import markdown_table
from drone_seg.runs.paired import CONFIDENCE, PairedDifference, paired_difference, seed_differences
from drone_seg.runs.run_dir import RunDir
from drone_seg.runs.sweep import run_dirs

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("val/dice", "val/dice_fg", "small")
PAIRED: tuple[str, ...] = ("val/dice", "small")  # the columns compared with the recipe, by seed
RECIPE = "recipe"
MINUS = "\N{MINUS SIGN}"  # a difference's sign in the Markdown table

# Each non-recipe arm's paired difference from the recipe, per PAIRED column.
Differences = dict[str, dict[str, PairedDifference]]


@dataclass
class ArmScores:
    """One arm's finished runs (each column's per-run values, each run's seed) and failed count."""

    arm: str
    values: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in COLUMNS})
    seeds: list[str | None] = field(default_factory=list)
    failed: int = 0

    def add(self, seed: str | None, scores: dict[str, float] | None) -> None:
        """Count a run: its scores and seed, or a failure when `scores` is None."""
        if scores is None:
            self.failed += 1
            return
        if seed is not None and seed in self.seeds:
            log.warning("Arm %s has seed %s twice: its pairs use the first run", self.arm, seed)
        self.seeds.append(seed)
        for column in COLUMNS:
            self.values[column].append(scores[column])

    def by_seed(self, column: str) -> dict[str, float]:
        """`column`'s value of each seeded run (the first run of a repeated seed)."""
        values: dict[str, float] = {}
        for seed, value in zip(self.seeds, self.values[column], strict=True):
            if seed is not None:
                values.setdefault(seed, value)
        return values


def small_class_mean(metrics: dict[str, float]) -> float:
    """Mean val/dice over the six small classes defined in this run (NaN if none is)."""
    values = [metrics.get(f"val/dice_{name}", math.nan) for name in SMALL_CLASSES]
    defined = [value for value in values if not math.isnan(value)]
    return sum(defined) / len(defined) if defined else math.nan


def override_value(overrides: Iterable[str], key: str) -> str | None:
    """The value `overrides` give `key` (as `key=`, `+key=` or `++key=`), or None."""
    for override in overrides:
        name, _, value = override.partition("=")
        if name.lstrip("+") == key:
            return value
    return None


def seed_of(run: RunDir, overrides: list[str]) -> str | None:
    """The run's seed: its `seed=` override, else its saved config's `seed` (None without both)."""
    seed = override_value(overrides, "seed")
    if seed is None and run.config.is_file():
        saved = OmegaConf.load(run.config).get("seed")
        seed = None if saved is None else str(saved)
    return seed


def run_scores(run: RunDir) -> dict[str, float] | None:
    """The run's best-epoch value of each column (None: the run failed or never finished)."""
    metrics = run.read_metrics()
    if run.error.is_file() or "val/dice" not in metrics:
        return None
    scores = {**metrics, "small": small_class_mean(metrics)}
    return {column: float(scores.get(column, math.nan)) for column in COLUMNS}


def collect_arms(sweep_dir: Path) -> list[ArmScores]:
    """Every arm of the multirun under `sweep_dir`, in the order its runs were launched."""
    arms: dict[str, ArmScores] = {}
    for run_dir in run_dirs(sweep_dir):
        run = RunDir(run_dir)
        overrides = [str(o) for o in OmegaConf.load(run.overrides)]
        arm = override_value(overrides, "ablation")
        if arm is not None:
            arms.setdefault(arm, ArmScores(arm)).add(seed_of(run, overrides), run_scores(run))
    return list(arms.values())


def differences_from_recipe(arms: list[ArmScores]) -> Differences | None:
    """Each other arm's paired difference from the recipe per PAIRED column (None: no recipe)."""
    recipe = next((arm for arm in arms if arm.arm == RECIPE), None)
    if recipe is None:
        return None
    return {
        arm.arm: {
            column: paired_difference(seed_differences(arm.by_seed(column), recipe.by_seed(column)))
            for column in PAIRED
        }
        for arm in arms
        if arm is not recipe
    }


def mean_and_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN spread for fewer than two values)."""
    defined = [value for value in values if not math.isnan(value)]
    if not defined:
        return math.nan, math.nan
    spread = statistics.stdev(defined) if len(defined) > 1 else math.nan
    return statistics.fmean(defined), spread


def ablation_rows(arms: list[ArmScores], differences: Differences | None) -> list[dict[str, str]]:
    """One row of Markdown cells per arm: `mean ± std` of each column to three decimals and, with a
    recipe arm, the pairs and each PAIRED column's `difference [interval]` and verdict."""
    rows = []
    for arm in arms:
        row = _counts(arm) | {c: _cell(*mean_and_spread(arm.values[c])) for c in COLUMNS}
        if differences is not None:
            row |= _difference_cells(differences.get(arm.arm))
        rows.append(row)
    return rows


def csv_rows(arms: list[ArmScores], differences: Differences | None) -> list[dict[str, str]]:
    """The table's figures as plain numbers: each column's mean and std and, with a recipe arm,
    each PAIRED column's mean_diff, ci_low, ci_high, pairs and separated (empty for the recipe)."""
    rows = []
    for arm in arms:
        row = _counts(arm)
        for column in COLUMNS:
            mean, spread = mean_and_spread(arm.values[column])
            row |= {f"{column} mean": _number(mean), f"{column} std": _number(spread)}
        if differences is not None:
            paired = differences.get(arm.arm, {})
            for column in PAIRED:
                row |= _difference_numbers(column, paired.get(column))
        rows.append(row)
    return rows


def _counts(arm: ArmScores) -> dict[str, str]:
    return {"arm": arm.arm, "runs": str(len(arm.seeds)), "failed": str(arm.failed)}


def _cell(mean: float, spread: float) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.3f}" if math.isnan(spread) else f"{mean:.3f} ± {spread:.3f}"


def _difference_cells(paired: dict[str, PairedDifference] | None) -> dict[str, str]:
    """Pairs, then per PAIRED column `difference [low, high]` and the verdict; empty for the recipe.
    A column with fewer pairs than val/dice (a run with no small class defined) says how many."""
    pairs = None if paired is None else paired[PAIRED[0]].pairs
    cells = {"pairs": "" if pairs is None else str(pairs)}
    for column in PAIRED:
        difference = None if paired is None else paired[column]
        text = verdict = ""
        if difference is not None:
            note = f"({difference.pairs} pairs)" if difference.pairs != pairs else ""
            text = " ".join(part for part in (_interval(difference), note) if part)
            verdict = difference.separated
        cells |= {f"{column} {MINUS} recipe": text, f"{column} separated": verdict}
    return cells


def _interval(difference: PairedDifference) -> str:
    """`+0.021 [-0.004, +0.046]` (with MINUS); the mean alone for one pair, nothing for none."""
    if difference.pairs < 2:
        return "" if difference.pairs == 0 else _signed(difference.mean)
    bounds = f"{_signed(difference.low)}, {_signed(difference.high)}"
    return f"{_signed(difference.mean)} [{bounds}]"


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", MINUS)


def _difference_numbers(column: str, difference: PairedDifference | None) -> dict[str, str]:
    names = ("mean_diff", "ci_low", "ci_high", "pairs", "separated")
    keys = [f"{column} {name}" for name in names]
    if difference is None:
        return dict.fromkeys(keys, "")
    low, high = _number(difference.low), _number(difference.high)
    values = [_number(difference.mean), low, high, str(difference.pairs), difference.separated]
    return dict(zip(keys, values, strict=True))


def _number(value: float) -> str:
    return "" if math.isnan(value) else repr(value)


def table_heading(differences: Differences | None) -> str:
    """What the table's cells are, printed above it and written at the top of `ablation.md`."""
    if differences is None:
        return "Ablation table (best epoch of each run, mean ± std over seeds; no recipe arm)"
    return (
        "Ablation table (best epoch of each run, mean ± std over seeds; "
        f"`<column> {MINUS} recipe`: the mean of the per-seed differences arm {MINUS} recipe, "
        f"paired by seed, [its {CONFIDENCE:.0%} t-interval]; separated: yes when the interval "
        "excludes 0, n/a below 2 pairs)"
    )


def write_ablation_table(
    cells: list[dict[str, str]], numbers: list[dict[str, str]], heading: str, sweep_dir: Path
) -> str:
    """Write `ablation.csv` (`numbers`) and `ablation.md` (`heading`, then the table of `cells`)
    in `sweep_dir`; return the Markdown table."""
    with (sweep_dir / "ablation.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(numbers[0]))
        writer.writeheader()
        writer.writerows(numbers)
    table = markdown_table(list(cells[0]), [list(row.values()) for row in cells])
    (sweep_dir / "ablation.md").write_text(f"{heading}\n\n{table}\n")
    return table


class AblationTable(Callback):
    """Hydra callback: when a multirun ends, write its ablation table (`ablation.md`, `.csv`)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        arms = collect_arms(sweep_dir)
        if not arms:
            log.warning("No run under %s has an ablation= override: no table written", sweep_dir)
            return
        differences = differences_from_recipe(arms)
        if differences is None:
            log.warning(
                "No ablation=%s run under %s: the table gives mean ± std only, no differences",
                RECIPE,
                sweep_dir,
            )
        heading = table_heading(differences)
        cells, numbers = ablation_rows(arms, differences), csv_rows(arms, differences)
        table = write_ablation_table(cells, numbers, heading, sweep_dir)
        print(f"\n{heading}:\n{table}")
