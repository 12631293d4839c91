"""Start-up checks of a composed config: each group against its schema (`schema.py`), unknown keys
refused, third-party `_target_` nodes' keys against the target's arguments (`targets.py`).

Every command calls `check_config` first, before torch or Lightning is imported and before any
data scan, so that a mistake stops the run in one line naming the key, the value and what it must
be. The YAML files under conf/ stay the only source of defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ValidationError

from drone_seg import schema as s
from drone_seg.config_checks.messages import Unresolved, message, shown, unknown_key
from drone_seg.config_checks.targets import HYDRA_KEYS, parameters
from drone_seg.errors import ConfigError
from drone_seg.runs.loggers import check_loggers

__all__ = ["built", "check_config"]

# How to set a mandatory key, for the keys users most often leave out.
MANDATORY_HINTS: dict[str, str] = {
    "ckpt_path": "<run>/checkpoints/best.ckpt",
    "input": "<an image, a video, a folder or a quoted glob>",
    "model.name": "<a network>, or choose a preset with model=<file in conf/model>",
    "suite": "<data, train, overhead, infer, memory, paths or all>",
}
TRAIN_GROUPS: dict[str, Any] = {
    "data": s.Data,
    "augment": s.Augment,
    "model": s.Model,
    "loss": s.Loss,
    "optimizer": {"torch.optim.SGD": s.SGD, "torch.optim.AdamW": s.AdamW},
    "scheduler": {"drone_seg.models.schedule.OneCycleLR": s.OneCycle, None: s.NoScheduler},
    "paths": s.Paths,
    "debug": s.Debug,
}


@dataclass(frozen=True)
class CommandChecks:
    """What one command reads: its own keys' schema, its groups' schemas, and what is required."""

    own: type[BaseModel]
    groups: dict[str, Any] = field(default_factory=lambda: {"paths": s.Paths})
    required: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()  # groups of `_target_` nodes: trainer, callbacks, logger


TRAIN_TARGETS = ("trainer", "callbacks", "logger")
DATA_GROUPS = {"data": s.Data, "augment": s.Augment, "paths": s.Paths}
COMMANDS: dict[str, CommandChecks] = {
    "train": CommandChecks(s.Train, TRAIN_GROUPS, targets=TRAIN_TARGETS),
    "bench": CommandChecks(s.Bench, TRAIN_GROUPS, targets=TRAIN_TARGETS),
    "eval": CommandChecks(s.Eval, DATA_GROUPS, required=("ckpt_path",), targets=("trainer",)),
    "predict": CommandChecks(s.Predict, required=("ckpt_path",)),
    "export": CommandChecks(s.Export, required=("ckpt_path",)),
    "stats": CommandChecks(s.Stats, DATA_GROUPS),
    "split": CommandChecks(s.Split, DATA_GROUPS),
    "prepare": CommandChecks(s.Prepare),
    "synthesize": CommandChecks(s.Synthesize),
}
OPTIONAL_GROUPS = ("scheduler", "debug", "callbacks", "logger")


def check_config(cfg: DictConfig, command: str) -> None:
    """Raise ConfigError, in one line naming the key, for the first mistake in `cfg` for
    `command` (a key of COMMANDS): a key left `???`, an unknown key, a value of the wrong type
    or range, a missing file, keys that do not fit together."""
    if command not in COMMANDS:
        raise ValueError(f"no config checks for command {command!r}: one of {', '.join(COMMANDS)}")
    checks = COMMANDS[command]
    _check_mandatory(cfg, checks.required)
    values = {key: value for key, value in _plain(cfg).items() if key != "hydra"}
    groups = {name: values.pop(name, None) for name in [*checks.groups, *checks.targets]}
    _validate(checks.own, values, "")
    for name, choices in checks.groups.items():
        node = groups[name]
        if node is None and name in OPTIONAL_GROUPS:
            continue
        key = node.get("_target_") if isinstance(node, dict) else None
        schema = (
            choices.get(key if key in choices else None) if isinstance(choices, dict) else choices
        )
        if schema is None:
            choices_text = ", ".join(str(c) for c in choices)
            raise ConfigError(f"{name}._target_={shown(key)} must be one of {choices_text}")
        _validate(schema, node, name)
    if "logger" in checks.targets:
        check_loggers(cfg)
    for name in checks.targets:
        if groups[name] is not None or name == "trainer":
            _check_targets(name, groups[name], named=name != "trainer")
    if "augment" in checks.groups:
        _check_targets("augment.train", groups["augment"]["train"])
        _check_targets("augment.val", groups["augment"]["val"])
    if "scheduler" in checks.groups:
        validates_last = bool((groups.get("callbacks") or {}).get("validate_last_epoch"))
        _check_run_length(groups["trainer"], bool(groups["scheduler"]), validates_last)
    if "data" in checks.groups and command != "eval":  # eval reads data.root from its checkpoint
        _check_ids_file(groups["data"])
    if unresolved := _first_unresolved([values, groups]):
        raise ConfigError(str(unresolved))


def built(key: str, node: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate(node, **kwargs)`; the target's own refusal of its arguments (a
    Lightning or albumentations check) in one line naming the config key `key`."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        target = re.search(r"target '([\w.]+)'", str(error))
        lines = [line.strip() for line in str(error.__cause__ or error).splitlines()]
        reason = ": ".join(line for line in lines[:3] if line and "errors.pydantic" not in line)
        reason = re.sub(r" \[type=.*\]$", "", reason)
        name = target.group(1) if target else node.get("_target_")
        raise ConfigError(f"{key} ({name}) refused its settings: {reason}") from error


def _validate(schema: type[BaseModel], values: Any, prefix: str) -> None:
    try:
        schema.model_validate(values)
    except ValidationError as error:
        raise ConfigError(message(error, schema, values, prefix)) from None


def _check_targets(key: str, node: Any, named: bool = False) -> None:
    """Every key of a `_target_` node (nested ones too) is an argument its target takes;
    `named`: `node` holds named targets (callbacks, loggers), each a node with a `_target_`."""
    if named:
        if not isinstance(node, dict):
            raise ConfigError(f"{key}={shown(node)} must be named nodes, each with a _target_")
        for name, item in node.items():
            if item is not None and not (isinstance(item, dict) and "_target_" in item):
                raise ConfigError(f"{key}.{name}={shown(item)} must be a node with a _target_")
            _check_targets(f"{key}.{name}", item)
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check_targets(f"{key}.{index}", item)
    if not isinstance(node, dict):
        return
    accepted = parameters(str(node["_target_"])) if "_target_" in node else None
    for name, item in node.items():
        if accepted is not None and name not in accepted | HYDRA_KEYS:
            raise ConfigError(unknown_key(f"{key}.{name}", item, node["_target_"], accepted))
        _check_targets(f"{key}.{name}", item)


def _check_run_length(trainer: dict[str, Any], scheduled: bool, validates_last: bool) -> None:
    """A planned schedule needs an end, and a run validating every N epochs must last N unless
    its last epoch is validated anyway (callbacks.validate_last_epoch)."""
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if scheduled and epochs == -1 and steps == -1:
        raise ConfigError(
            "trainer.max_epochs=-1 and trainer.max_steps=-1 make an endless run, over which the "
            "scheduler cannot be planned: set trainer.max_epochs or trainer.max_steps, or "
            "scheduler=none"
        )
    every = trainer.get("check_val_every_n_epoch")
    if validates_last or trainer.get("limit_val_batches") == 0 or not isinstance(every, int):
        return
    if isinstance(epochs, int) and 0 < epochs < every:
        raise ConfigError(
            f"trainer.check_val_every_n_epoch={every} with trainer.max_epochs={epochs}: the run "
            "would never validate (no val/dice, best.ckpt or metrics.json); set "
            f"trainer.check_val_every_n_epoch={epochs} or more epochs, or keep "
            "callbacks.validate_last_epoch"
        )


def _check_ids_file(data: dict[str, Any]) -> None:
    """`data.ids_file` exists under the data root, once the root does (a missing root is the
    data checks' to report; the synthetic set writes its id lists when it is generated)."""
    ids_file = data["ids_file"]
    root = Path(data["root"] if data["root"] is not None else data["synthetic"]["dir"])
    path = root / str(ids_file)
    if ids_file is None or path.is_file() or not (Path(ids_file).is_absolute() or root.is_dir()):
        return
    raise ConfigError(
        f"data.ids_file={ids_file} does not exist ({path}; a relative path is read from "
        "data.root): point it at a text file of image ids, or set data.ids_file=null"
    )


def _plain(node: DictConfig | ListConfig, prefix: str = "") -> Any:
    """`node` as plain Python, each interpolation resolved or, where that fails, `Unresolved`."""
    keys: Iterable[Any] = node.keys() if isinstance(node, DictConfig) else range(len(node))
    items = {}
    for key in keys:
        try:
            value = node[key]
        except OmegaConfBaseException as error:
            value = Unresolved(f"{prefix}{key}", str(error).splitlines()[0])
        if isinstance(value, DictConfig | ListConfig):
            value = _plain(value, f"{prefix}{key}.")
        items[str(key)] = value
    return items if isinstance(node, DictConfig) else list(items.values())


def _first_unresolved(value: Any) -> Unresolved | None:
    """The first value left `Unresolved` in `value`, if any."""
    if isinstance(value, Unresolved):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return next(filter(None, map(_first_unresolved, items)), None)


def _missing_keys(node: DictConfig | ListConfig, prefix: str = "") -> Iterator[str]:
    """Full keys of the values left `???`, without resolving any interpolation."""
    keys: Iterable[Any] = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        full = f"{prefix}{key}"
        if OmegaConf.is_missing(node, key):
            yield full
        elif not OmegaConf.is_interpolation(node, key):
            child = node[key]
            if isinstance(child, DictConfig | ListConfig):
                yield from _missing_keys(child, f"{full}.")


def _check_mandatory(cfg: DictConfig, required: tuple[str, ...]) -> None:
    """Refuse a value left `???` (Hydra's mandatory marker), and a `required` key left null; the
    `required` keys are named first."""
    left = [key for key in _missing_keys(cfg) if not key.startswith("hydra.")]
    unset = [key for key in required if key in left or OmegaConf.select(cfg, key) in (None, "")]
    unset += [key for key in left if key not in unset]
    if unset:
        key = unset[0]
        raise ConfigError(f"{key} is not set: pass {key}={MANDATORY_HINTS.get(key, '<value>')}")
