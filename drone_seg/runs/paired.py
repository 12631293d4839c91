"""Two arms compared seed by seed: per-seed differences, their mean and a Student's t interval.

Two runs with the same seed share their split (the seed draws the val images) and their seeded
start, so the difference of their scores cancels what the seed alone moves; the interval is over
those differences (a paired t-interval), not over the two arms' spreads.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from scipy.stats import t

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDifference:
    """Mean of the per-seed differences `arm - reference`, its t-interval and how many pairs."""

    mean: float
    low: float
    high: float
    pairs: int

    @property
    def separated(self) -> str:
        """`yes` when the interval excludes 0, `no` when it holds it, `n/a` below two pairs."""
        if self.pairs < 2:
            return "n/a"
        return "yes" if self.low > 0.0 or self.high < 0.0 else "no"


def seed_differences(arm: Mapping[str, float], reference: Mapping[str, float]) -> list[float]:
    """`arm[seed] - reference[seed]` for each seed where both values are defined (not NaN)."""
    common = sorted(seed for seed in arm.keys() & reference.keys())
    pairs = [(arm[seed], reference[seed]) for seed in common]
    return [a - r for a, r in pairs if not (math.isnan(a) or math.isnan(r))]


def paired_difference(differences: list[float]) -> PairedDifference:
    """The mean of `differences` and its two-sided CONFIDENCE t-interval (NaN below two)."""
    if not differences:
        return PairedDifference(math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return PairedDifference(mean, math.nan, math.nan, 1)
    quantile = float(t.ppf((1.0 + CONFIDENCE) / 2.0, len(differences) - 1))
    half = quantile * statistics.stdev(differences) / math.sqrt(len(differences))
    return PairedDifference(mean, mean - half, mean + half, len(differences))
