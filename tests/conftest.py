"""Shared fixtures: a small synthetic drone dataset, one trained run, composed training configs."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from drone_seg.runs.run_dir import RunDir
from drone_seg.synthetic import generate_dataset

from helpers.config import TINY, compose_config
from helpers.trained import made_once, train_shared_run

# The tests choose their data and runs: a developer's own DRONE_SEG_DATA / DRONE_SEG_RUN would
# send the default synthetic sets and notebooks into their folders (subprocesses inherit this).
for variable in ("DRONE_SEG_DATA", "DRONE_SEG_RUN"):
    os.environ.pop(variable, None)

# Under pytest-xdist (`make test`), the workers share the cores instead of each spinning on all.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-image synthetic set in AeroScapes layout, made once per test session (and shared by
    the workers); its rare classes are denser than AeroScapes' (boats in 2% of images would be in
    none of 40)."""
    dense = {"boat": 0.3, "animal": 0.3, "drone": 0.5, "sky": 0.5}

    def render(root: Path) -> None:
        generate_dataset(
            root, num_images=40, seed=0, width=160, height=96, frames_per_sequence=4,
            class_mix=dense,
        )  # fmt: skip

    return made_once(tmp_path_factory, "synthetic", render)


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> RunDir:
    """The session's one trained run (helpers.trained.SHARED_RUN): read it, never change it."""
    return train_shared_run(tmp_path_factory, synthetic_root)


@pytest.fixture
def train_config(tmp_path: Path, synthetic_root: Path) -> Callable[..., DictConfig]:
    """Compose `train.yaml` as the CLI would, with tiny sizes, the test's data, a new run dir."""
    runs = itertools.count()

    def make(*overrides: str) -> DictConfig:
        run_dir = tmp_path / f"run{next(runs)}"
        return compose_config(
            "train", f"data.root={synthetic_root}", f"paths.root_dir={tmp_path}", *TINY,
            *overrides, run_dir=run_dir,
        )  # fmt: skip

    return make
