"""The project's own configs, composed for the benchmarks, so that a row named `baseline` or
`deeplabv3_resnet101` measures exactly what training with that config group runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from drone_seg.classes import NUM_CLASSES
from drone_seg.cli import CONFIG_DIR
from drone_seg.errors import ConfigError
from drone_seg.models.module import SegmentationModule, module_from_config

# Config groups each row chooses itself, and the bench key that lists the choices.
ROW_GROUPS: dict[str, str] = {"model": "networks", "augment": "augments"}


def train_config(overrides: Sequence[str]) -> DictConfig:
    """`conf/train.yaml` with `overrides`, as `python -m drone_seg.train` would compose it (with
    the running command's Hydra when there is one, as inside `python -m drone_seg.bench`)."""
    if GlobalHydra.instance().is_initialized():
        return compose("train", overrides=list(overrides))
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides))


def bench_keys() -> list[str]:
    """The top-level keys conf/bench.yaml sets itself (suite, device, networks, hydra...)."""
    own = OmegaConf.load(Path(CONFIG_DIR) / "bench.yaml")
    return [str(key) for key in own if key != "defaults"]


def train_overrides(command_line: Sequence[str]) -> list[str]:
    """The overrides of a bench command line that are the train config's: all but the bench's
    own keys. A model= or augment= choice is refused: the rows choose those (`networks`...)."""
    own = bench_keys()
    parsed = OverridesParser.create().parse_overrides(list(command_line))
    for override in parsed:
        key = override.key_or_group
        if key in ROW_GROUPS and not override.is_delete():
            raise ConfigError(
                f"{key}={override.value()} is not read: the bench measures the configs listed in "
                f"{ROW_GROUPS[key]}, e.g. {ROW_GROUPS[key]}=[{override.value()}]"
            )
    return [
        text
        for text, override in zip(command_line, parsed, strict=True)
        if override.key_or_group.split(".")[0] not in own
    ]


def build_module(network: str, overrides: Sequence[str] = ()) -> SegmentationModule:
    """The training module of `model=network`, randomly initialized: nothing is downloaded."""
    weights = ["model.weights=null", "model.weights_backbone=null"]
    return module_from_config(train_config([f"model={network}", *weights, *overrides]))


def row_name(network: str, module: SegmentationModule) -> str:
    """A row's name: the model= config, with the encoder of an smp network, e.g. unet (resnet34)."""
    encoder = module.hparams.model["encoder"]
    return f"{network} ({encoder})" if encoder else network


def random_batch(
    batch: int, size: tuple[int, int], device: torch.device, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A uint8 image batch and a uint8 class-id mask batch, as the data loader delivers them."""
    generator = torch.Generator().manual_seed(seed)
    height, width = size
    shape = (batch, 3, height, width)
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    masks = torch.randint(
        0, NUM_CLASSES, (batch, height, width), dtype=torch.uint8, generator=generator
    )
    return {"image": images.to(device), "mask": masks.to(device)}
