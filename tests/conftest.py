"""Shared fixtures: a small synthetic drone dataset and composed training configs."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from drone_seg.cli import CONFIG_DIR
from drone_seg.synthetic import generate_dataset

# The tests choose their data and runs: a developer's own DRONE_SEG_DATA / DRONE_SEG_RUN would
# send the default synthetic sets and notebooks into their folders (subprocesses inherit this).
for variable in ("DRONE_SEG_DATA", "DRONE_SEG_RUN"):
    os.environ.pop(variable, None)

# Under pytest-xdist (`make test`), the workers share the cores instead of each spinning on all.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))

# Small images and crops keep every network's step to a second or two on a CPU.
TINY = [
    "augment.crop_size=[64,64]",
    "augment.val_size=[96,160]",
    "data.batch_size=4",
    "data.num_workers=0",
    "trainer.accelerator=cpu",
]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-image synthetic set in AeroScapes layout, made once per test session; its rare
    classes are denser than AeroScapes' (boats in 2% of images would be in none of 40)."""
    root = tmp_path_factory.mktemp("data") / "synthetic"
    dense = {"boat": 0.3, "animal": 0.3, "drone": 0.5, "sky": 0.5}
    generate_dataset(
        root, num_images=40, seed=0, width=160, height=96, frames_per_sequence=4, class_mix=dense
    )
    return root


@pytest.fixture
def train_config(tmp_path: Path, synthetic_root: Path) -> Callable[..., DictConfig]:
    """Compose `train.yaml` as the CLI would, with tiny sizes, the test's data, a new run dir."""
    runs = itertools.count()

    def make(*overrides: str) -> DictConfig:
        run_dir = tmp_path / f"run{next(runs)}"
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(
                config_name="train",
                overrides=[
                    f"data.root={synthetic_root}",
                    f"hydra.run.dir={run_dir}",
                    f"paths.root_dir={tmp_path}",
                    *TINY,
                    *overrides,
                ],
                return_hydra_config=True,
            )
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
        HydraConfig.instance().set_config(cfg)
        return cfg

    return make
