"""Checkpoints, in one place: reading them safely, writing them atomically, the run record that
makes each one self-describing, and loading one for inference or evaluation.

Every checkpoint `drone_seg.train` writes carries, under the key `drone_seg`, what evaluating and
predicting need without the run folder: class names and palette, the network config and input
normalization, ignore index, validation size, the data and augment settings and the split (train
and val ids), and the run's own config (for resuming). Checkpoints are opened with
`weights_only=True`: tensors and plain data only, no pickled objects, so opening one runs no code.

Writing replaces Lightning's default, which goes through an fsspec transaction whose temporary file
lives in the system temp folder, so its last step can be a copy across file systems over the only
good `last.ckpt`. Here the new file is written and synced beside the old one, then renamed over it:
a process killed at any moment leaves either the previous checkpoint or the new one, whole.

Loading builds the network from the checkpoint's own config with no weights to download; inference
builds no loss, optimizer or schedule at all, evaluation builds only the loss, whose `_target_` must
be on the allowlist.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf
from pydantic import ValidationError

from drone_seg.allowlist import check_targets
from drone_seg.classes import CLASS_NAMES, IGNORE_INDEX, PALETTE
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.errors import ConfigError
from drone_seg.models.inference_network import InferenceNetwork, InputNormalization
from drone_seg.models.module import SegmentationModule
from drone_seg.models.networks import build_network
from drone_seg.schema import Model

RECORD_KEY = "drone_seg"
RECORD_FORMAT = 1
NETWORK_PREFIX = "net."


def read_checkpoint(path: Path, key: str = "ckpt_path") -> dict[str, Any]:
    """Load the checkpoint at `path` as plain data (CPU tensors), or raise one line naming it."""
    if not path.is_file():
        raise ConfigError(f"{key}={path} not found: point it at a checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ConfigError(
            f"{key}={path} refused: it holds pickled Python objects, not only tensors and plain "
            f"data ({_first_line(error)}); only open checkpoints written by drone_seg.train"
        ) from error
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise ConfigError(
            f"{key}={path} is not a readable checkpoint (truncated or corrupt: "
            f"{_first_line(error)}): copy it again or pick another file"
        ) from error
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get(RECORD_KEY), dict):
        raise ConfigError(
            f"{key}={path} is not a checkpoint written by drone_seg.train (no '{RECORD_KEY}' run "
            "record: a plain state dict or another program's checkpoint)"
        )
    if not isinstance(checkpoint.get("state_dict"), dict):
        raise ConfigError(f"{key}={path} has no state_dict: it holds no trained weights")
    return checkpoint


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


@dataclass(frozen=True)
class RunRecord:
    """The run record of a checkpoint (see the module docstring), read back as typed fields."""

    path: Path
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_index: int
    model: dict[str, Any]
    val_size: tuple[int, int]
    seed: int
    data: dict[str, Any]
    augment: dict[str, Any]
    split_train: tuple[str, ...]
    split_val: tuple[str, ...]
    split_source: str
    config: dict[str, Any]
    choices: dict[str, str]
    hyper_parameters: dict[str, Any]

    @classmethod
    def of(cls, checkpoint: dict[str, Any], path: Path) -> RunRecord:
        """The record of a checkpoint read by `read_checkpoint`; one line if it is malformed."""
        record = checkpoint[RECORD_KEY]
        try:
            if record["format"] != RECORD_FORMAT:
                raise ValueError(f"format {record['format']}, expected {RECORD_FORMAT}")
            height, width = record["val_size"]
            return cls(
                path=path,
                classes=tuple(str(name) for name in record["classes"]),
                palette=tuple(tuple(int(c) for c in rgb) for rgb in record["palette"]),
                ignore_index=int(record["ignore_index"]),
                model=dict(checkpoint["hyper_parameters"]["model"]),
                val_size=(int(height), int(width)),
                seed=int(record["seed"]),
                data=dict(record["data"]),
                augment=dict(record["augment"]),
                split_train=tuple(record["split"]["train"]),
                split_val=tuple(record["split"]["val"]),
                split_source=str(record["split"]["source"]),
                config=dict(record["config"]),
                choices={str(k): str(v) for k, v in record["choices"].items()},
                hyper_parameters=dict(checkpoint["hyper_parameters"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"ckpt_path={path} has a malformed '{RECORD_KEY}' run record ({error!r}): it was "
                "not written by this version of drone_seg.train"
            ) from error


def read_record(path: Path, key: str = "ckpt_path") -> tuple[dict[str, Any], RunRecord]:
    """The checkpoint at `path` and its run record."""
    checkpoint = read_checkpoint(path, key)
    return checkpoint, RunRecord.of(checkpoint, path)


def make_record(
    cfg: DictConfig, choices: dict[str, str], train_ids: list[str], val_ids: list[str]
) -> dict[str, Any]:
    """The run record train puts in every checkpoint (plain data only, see the module docstring);
    `choices` are the run's config-group choices (Hydra's runtime.choices), for resuming.

    Data paths are made absolute, so a checkpoint copied anywhere finds its images; the data's
    transforms stay references to `augment`, which is kept unresolved so that an evaluation with
    another `augment.val_size` rebuilds its resize.
    """
    data = OmegaConf.to_container(cfg.data, resolve=True)
    data["train_transform"], data["val_transform"] = "${augment.train}", "${augment.val}"
    for key in ("root", "split_file", "cache_dir"):
        if data[key]:
            data[key] = str(Path(data[key]).resolve())
    if data["synthetic"]:
        data["synthetic"]["dir"] = str(Path(data["synthetic"]["dir"]).resolve())
    config = OmegaConf.to_container(cfg, resolve=False)
    config.pop("hydra", None)
    split_keys = ("split", "split_file", "val_fraction", "split_seed")
    return {
        "format": RECORD_FORMAT,
        "classes": list(CLASS_NAMES),
        "palette": [list(rgb) for rgb in PALETTE],
        "ignore_index": IGNORE_INDEX,
        "val_size": [int(v) for v in cfg.augment.val_size],
        "seed": int(cfg.seed),
        "data": data,
        "augment": OmegaConf.to_container(cfg.augment, resolve=False),
        "split": {
            "source": ", ".join(f"data.{key}={data[key]}" for key in split_keys),
            "train": list(train_ids),
            "val": list(val_ids),
        },
        "config": config,
        "choices": {str(k): str(v) for k, v in choices.items()},
    }


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO with same-folder atomic replacement and weights-only loading."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        _sync_folder(target.parent)

    def load_checkpoint(
        self,
        path: str | Path,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def offline_model_config(model: dict[str, Any]) -> dict[str, Any]:
    """The run's network config, its weights coming from the checkpoint: nothing downloaded."""
    return {**model, "weights": None, "weights_backbone": None, "compile": False}


def inference_network(path: Path, device: torch.device) -> tuple[InferenceNetwork, RunRecord]:
    """The checkpoint's network (normalization inside, no aux head) on `device`, and its record."""
    checkpoint, record = read_record(path)
    spec = _model_spec(record)
    net = build_network(
        name=spec.name,
        num_classes=int(record.hyper_parameters["num_classes"]),
        aux_loss=spec.aux_loss,
        bn_momentum=spec.bn_momentum,
        encoder=spec.encoder,
    )
    weights = {
        key.removeprefix(NETWORK_PREFIX): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(NETWORK_PREFIX)
    }
    _load_weights(net, weights, path)
    normalization = InputNormalization(spec.mean, spec.std)
    network = InferenceNetwork(net, normalization, spec.channels_last)
    return network.to(device), record


def _model_spec(record: RunRecord) -> Model:
    """The checkpoint's network config, validated as conf/model is; one line if it does not fit."""
    try:
        return Model.model_validate(offline_model_config(record.model))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"ckpt_path={record.path} has a network config this version cannot use (model."
            f"{where}: {first['msg']}): it was not written by this version of drone_seg.train"
        ) from error


def evaluation_module(path: Path) -> tuple[SegmentationModule, RunRecord]:
    """The checkpoint's training module (network, allowlisted loss) on the CPU, and its record."""
    checkpoint, record = read_record(path)
    _model_spec(record)
    hyper_parameters = dict(record.hyper_parameters)
    hyper_parameters["model"] = offline_model_config(record.model)
    check_targets(hyper_parameters["loss"], f"ckpt_path={path}")
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
        raise ConfigError(
            f"ckpt_path={path}: its weights do not fit its own network config "
            f"({_first_line(error)})"
        ) from error


def val_data(cfg: DictConfig, source: str) -> DroneDataModule:
    """The data module of `cfg.data`, set up for validation; its targets must be allowlisted."""
    check_targets(OmegaConf.to_container(cfg.data, resolve=False), source)
    check_targets(OmegaConf.to_container(cfg.augment, resolve=False), source)
    datamodule: DroneDataModule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("validate")
    return datamodule
