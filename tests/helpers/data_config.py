"""The shipped data config for tests that build `DroneDataModule` or `DataSource` directly: every
default comes from conf/data/ (composed as train composes it), none is repeated in a test."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf, open_dict

from drone_seg.cli import CONFIG_DIR
from drone_seg.data.source import DataSource


@cache
def _shipped_data() -> dict[str, Any]:
    """conf/data/aeroscapes.yaml with train's seed, no experiment preset; transforms and
    copy-paste off (tests give the ones they need)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["~experiment", "data=aeroscapes"])
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.data.root = None
        cfg.data.train_transform = cfg.data.val_transform = cfg.data.copy_paste = None
    data = OmegaConf.to_container(cfg.data, resolve=True)
    del data["_target_"]
    return data


def data_options(root: Path | str, **changes: Any) -> dict[str, Any]:
    """`DroneDataModule`'s arguments for the dataset at `root`: the shipped ones, `changes` on
    top."""
    return {**copy.deepcopy(_shipped_data()), "root": str(root), **changes}


def data_source(root: Path | str, **changes: Any) -> DataSource:
    """The `DataSource` of the dataset at `root` with the shipped settings, `changes` on top."""
    return DataSource.from_config(data_options(root, **changes))
