"""The one checkpoint loader: a network for inference, a module for evaluation, and the data
module of its run's validation, from the file.

Both read the checkpoint as plain data (`read_record`) and build the network from its own config
with no weights to download; inference builds no loss, optimizer or schedule at all, evaluation
builds only the loss, whose `_target_` must be on the allowlist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from drone_seg.allowlist import check_targets
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.errors import ConfigError
from drone_seg.models.inference_network import InferenceNetwork, InputNormalization
from drone_seg.models.module import SegmentationModule
from drone_seg.models.networks import build_network
from drone_seg.runs.checkpoint import RunRecord, read_record

NETWORK_PREFIX = "net."


def offline_model_config(model: dict[str, Any]) -> dict[str, Any]:
    """The run's network config, its weights coming from the checkpoint: nothing downloaded."""
    return {**model, "weights": None, "weights_backbone": None, "compile": False}


def inference_network(path: Path, device: torch.device) -> tuple[InferenceNetwork, RunRecord]:
    """The checkpoint's network (normalization inside, no aux head) on `device`, and its record."""
    checkpoint, record = read_record(path)
    model = offline_model_config(record.model)
    net = build_network(
        name=model["name"],
        num_classes=int(record.hyper_parameters.get("num_classes", len(record.classes))),
        aux_loss=model.get("aux_loss", True),
        bn_momentum=model.get("bn_momentum"),
        encoder=model.get("encoder"),
    )
    weights = {
        key.removeprefix(NETWORK_PREFIX): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(NETWORK_PREFIX)
    }
    _load_weights(net, weights, path)
    normalization = InputNormalization(model["mean"], model["std"])
    network = InferenceNetwork(net, normalization, bool(model.get("channels_last", False)))
    return network.to(device), record


def evaluation_module(path: Path) -> tuple[SegmentationModule, RunRecord]:
    """The checkpoint's training module (network, allowlisted loss) on the CPU, and its record."""
    checkpoint, record = read_record(path)
    hyper_parameters = dict(record.hyper_parameters)
    hyper_parameters["model"] = offline_model_config(record.model)
    check_targets(hyper_parameters.get("loss"), f"ckpt_path={path}")
    try:
        module = SegmentationModule(**hyper_parameters)
    except TypeError as error:
        raise ConfigError(
            f"ckpt_path={path} has hyperparameters this version cannot use: {error}"
        ) from error
    _load_weights(module, checkpoint["state_dict"], path)
    return module, record


def _load_weights(network: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Load `weights` strictly; a mismatch is one line naming the checkpoint."""
    try:
        network.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ConfigError(
            f"ckpt_path={path}: its weights do not fit its own network config ({first})"
        ) from error


def val_data(cfg: DictConfig, source: str) -> DroneDataModule:
    """The data module of `cfg.data`, set up for validation; its targets must be allowlisted."""
    check_targets(OmegaConf.to_container(cfg.data, resolve=False), source)
    check_targets(OmegaConf.to_container(cfg.augment, resolve=False), source)
    datamodule: DroneDataModule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("validate")
    return datamodule
