"""Resolvers the configs use: run folders (`${drone_seg.train_run_dir:...}` and friends) and the
CPU's training precision (`${drone_seg.cpu_precision:}`, conf/trainer/cpu.yaml).

Registered when the package is imported, so every command and test composes the same names.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

from drone_seg.cpu_features import cpu_precision
from drone_seg.runs.run_dir import RunDir


def train_run_dir(ckpt_path: str | None, default: str) -> str:
    """Hydra resolver: the run folder of a checkpoint being resumed, else `default`."""
    if ckpt_path:
        run = RunDir.of_checkpoint(Path(ckpt_path))
        if run is not None:
            return str(run.path)
    return default


def config_subdir(ckpt_path: str | None) -> str:
    """Hydra resolver: `.hydra` for a new run, `.hydra/resume-<time>` when resuming."""
    if ckpt_path:
        return f".hydra/resume-{datetime.now():%Y-%m-%d_%H-%M-%S-%f}"
    return ".hydra"


def job_id() -> str:
    """Hydra resolver: the SLURM job id when there is one, else this process's id."""
    return os.environ.get("SLURM_JOB_ID") or str(os.getpid())


def register_resolvers() -> None:
    """Make the resolvers above available to configs as `${drone_seg.<name>:...}`."""
    for name, function in (
        ("drone_seg.train_run_dir", train_run_dir),
        ("drone_seg.config_subdir", config_subdir),
        ("drone_seg.job_id", job_id),
        ("drone_seg.cpu_precision", cpu_precision),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function, use_cache=True)
