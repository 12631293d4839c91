"""RunDir: the files a training run writes, in one place, for train to write and the rest to read.

<run>/.hydra/config.yaml   the composed config (resumes add .hydra/resume-<time>/)
<run>/split.csv            image,subset of the run's split (and split_report.md)
<run>/checkpoints/         best.ckpt (best val/dice) and last.ckpt (every epoch, to resume)
<run>/metrics.json         the best epoch's val metrics, strict JSON (undefined scores: null)
<run>/tensorboard/         logger files
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CHECKPOINTS = "checkpoints"
BEST = "best.ckpt"
LAST = "last.ckpt"


@dataclass(frozen=True)
class RunDir:
    """A training run's folder and the names of what it holds."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / ".hydra" / "config.yaml"

    @property
    def overrides(self) -> Path:
        return self.path / ".hydra" / "overrides.yaml"

    @property
    def split(self) -> Path:
        return self.path / "split.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / BEST

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def error(self) -> Path:
        """Where a failed run of a sweep records its error."""
        return self.path / "error.txt"

    @classmethod
    def of_checkpoint(cls, checkpoint: Path) -> RunDir | None:
        """The run a checkpoint sits in (`<run>/checkpoints/<name>.ckpt`), or None if copied out."""
        folder = checkpoint.resolve().parent
        return cls(folder.parent) if folder.name == CHECKPOINTS else None

    def holds_checkpoints(self) -> bool:
        return self.checkpoints.is_dir() and any(self.checkpoints.glob("*.ckpt"))

    def read_metrics(self) -> dict[str, float]:
        """metrics.json as numbers ({} when absent); undefined scores (null) come back as NaN."""
        return read_metrics(self.metrics) if self.metrics.is_file() else {}


def write_metrics(path: Path, metrics: Mapping[str, float]) -> None:
    """Write `metrics` as strict JSON (NaN as null), atomically: a reader never sees half a file."""
    plain = {key: None if _undefined(value) else value for key, value in metrics.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(plain, indent=2, allow_nan=False) + "\n")
    os.replace(temporary, path)


def read_metrics(path: Path) -> dict[str, float]:
    """The metrics written by `write_metrics`, null read back as NaN."""
    return {
        key: math.nan if value is None else value
        for key, value in json.loads(path.read_text()).items()
    }


def _undefined(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)
