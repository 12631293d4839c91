"""Composed command configs and one small trained model, shared by the predict and export tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from drone_seg.cli import CONFIG_DIR
from drone_seg.train import train


def compose_config(name: str, run_dir: Path, *overrides: str) -> DictConfig:
    """Compose `conf/<name>.yaml` as its command line would, with `run_dir` as the run directory."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name=name,
            overrides=[f"hydra.run.dir={run_dir}", *overrides],
            return_hydra_config=True,
        )
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """best.ckpt of the demo recipe trained briefly on small crops; trained once per session.

    It tells background, vegetation, road and sky apart, with many near ties between the first two.
    """
    run_dir = tmp_path_factory.getbasetemp() / "tiny_model"
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    if not checkpoint.is_file():
        overrides = [
            f"data.root={data_root}",
            f"paths.root_dir={run_dir}",
            "augment.crop_size=[64,64]",
            "augment.val_size=[96,160]",
            "data.batch_size=4",
            "data.num_workers=0",
            "trainer.accelerator=cpu",
            "trainer.max_epochs=2",
            "trainer.num_sanity_val_steps=0",
            "scheduler=none",  # full learning rate at once: 16 steps learn several classes
        ]
        train(compose_config("train", run_dir, *overrides))
    return checkpoint


def agreement(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    """Share of pixels on which two lists of masks agree."""
    same = sum(int((a == b).sum()) for a, b in zip(first, second, strict=True))
    return same / sum(a.size for a in first)
