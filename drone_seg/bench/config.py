"""The project's own configs, composed for the benchmarks, so that a row named `baseline` or
`deeplabv3_resnet101` measures exactly what training with that config group runs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from drone_seg.classes import NUM_CLASSES
from drone_seg.cli import CONFIG_DIR
from drone_seg.models.module import SegmentationModule, module_from_config


def train_config(overrides: Sequence[str]) -> DictConfig:
    """`conf/train.yaml` with `overrides`, as `python -m drone_seg.train` would compose it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides))


def build_module(network: str, overrides: Sequence[str] = ()) -> SegmentationModule:
    """The training module of `model=network`, randomly initialized: nothing is downloaded."""
    weights = ["model.weights=null", "model.weights_backbone=null"]
    return module_from_config(train_config([f"model={network}", *weights, *overrides]))


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
