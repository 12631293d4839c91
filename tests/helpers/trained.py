"""What a test session makes once and every pytest-xdist worker shares: the synthetic set and one
small trained run, read by the tests that only read a run (train's outputs, eval, predict, export,
run-folder safety, confinement, notebooks, a quiet first run)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from drone_seg.runs.run_dir import RunDir

from helpers.cli import ONE_THREAD, run_command
from helpers.config import TINY_TRAIN

# The demo experiment through the command line, small (helpers.config.TINY_TRAIN), for 2 epochs
# of 8 batches at the full learning rate (16 steps learn several classes: the model tells
# background, vegetation, road and sky apart, with many near ties between the first two), on a
# split seed other than the default, so that a command reading the split must take the run's.
SHARED_RUN = (
    *TINY_TRAIN,
    "trainer.max_epochs=2",
    "trainer.log_every_n_steps=1",
    "scheduler=none",
    "data.split_seed=7",
)
SHARED_EPOCHS = 2


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]):
    """`<session folder>/<name>`, made by `make(path)` in the first worker that asks for it; the
    others wait for it (a file lock) and share it. Its `.done` file marks it complete."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path, done = shared / name, shared / f"{name}.done"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            make(path)
            done.touch()
    return path


def train_shared_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> RunDir:
    """The session's trained run (SHARED_RUN) in `<folder>/run`; what the training printed, with
    every Python warning shown (PYTHONWARNINGS=default), is in `<folder>/train.stdout` and
    `train.stderr`."""

    def train(folder: Path) -> None:
        result = run_command(
            "drone_seg.train", f"data.root={data_root}", f"hydra.run.dir={folder / 'run'}",
            *SHARED_RUN, env={**ONE_THREAD, "PYTHONWARNINGS": "default"},
        )  # fmt: skip
        (folder / "train.stdout").write_text(result.stdout)
        (folder / "train.stderr").write_text(result.stderr)

    return RunDir(made_once(tmp_path_factory, "shared_run", train) / "run")


def printed(run: RunDir) -> tuple[str, str]:
    """What the shared run's training printed: its stdout and its stderr."""
    folder = run.path.parent
    return (folder / "train.stdout").read_text(), (folder / "train.stderr").read_text()


def agreement(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    """Share of pixels on which two lists of masks agree."""
    same = sum(int((a == b).sum()) for a, b in zip(first, second, strict=True))
    return same / sum(a.size for a in first)
