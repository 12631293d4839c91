"""The shipped configs for tests that build the project's objects directly (data module, data
source, loss, schedule, callbacks): every default comes from conf/ (composed as train composes
it, without an experiment preset), none is repeated in a test."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

from drone_seg.cli import CONFIG_DIR
from drone_seg.data.source import DataSource


@cache
def _train_config() -> DictConfig:
    """conf/train.yaml with the group defaults (no experiment), data=aeroscapes."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["~experiment", "data=aeroscapes"])
    GlobalHydra.instance().clear()
    return cfg


def shipped(key: str, **changes: Any) -> dict[str, Any]:
    """The node at `key` (e.g. `loss`, `callbacks.model_summary`) as plain arguments, resolved,
    without its `_target_`, `changes` on top."""
    node = OmegaConf.to_container(OmegaConf.select(_train_config(), key), resolve=True)
    node.pop("_target_", None)
    return {**node, **changes}


@cache
def _shipped_data() -> dict[str, Any]:
    """conf/data/aeroscapes.yaml with transforms and copy-paste off (tests give the ones they
    need): their shipped values are augment's pipelines, built only by instantiate."""
    data = copy.deepcopy(_train_config().data)
    with open_dict(data):
        data.root = None
        data.train_transform = data.val_transform = data.copy_paste = None
    options = OmegaConf.to_container(data, resolve=True)
    del options["_target_"]
    return options


def data_options(root: Path | str, **changes: Any) -> dict[str, Any]:
    """`DroneDataModule`'s arguments for the dataset at `root`: the shipped ones, `changes` on
    top."""
    return {**copy.deepcopy(_shipped_data()), "root": str(root), **changes}


def data_source(root: Path | str, **changes: Any) -> DataSource:
    """The `DataSource` of the dataset at `root` with the shipped settings, `changes` on top."""
    return DataSource.from_config(data_options(root, **changes))
