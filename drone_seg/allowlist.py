"""Which `_target_`s read from a file a user received may be instantiated.

A checkpoint or a run's config is data: `hydra.utils.instantiate` on a `_target_` read from it
would call whatever it names (`builtins.exec`, `torch.load`, ...). Only classes of this project's
and its libraries' known kinds pass: losses, optimizers, schedulers, albumentations transforms,
Lightning trainers, callbacks, loggers and profilers, and this project's data module.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from drone_seg.errors import ConfigError

# Packages a target may come from; nothing else is even imported.
ALLOWED_PACKAGES: tuple[str, ...] = ("drone_seg.", "torch.", "lightning.", "albumentations.")
# Modules whose torch.nn.Module classes are losses.
LOSS_MODULES: tuple[str, ...] = ("drone_seg.models.losses", "torch.nn.modules.loss")


def _allowed_bases() -> tuple[type, ...]:
    """The base classes an allowed target must derive from (imported lazily: torch is slow)."""
    import albumentations
    import lightning as L
    import torch
    from lightning.pytorch.loggers import Logger
    from lightning.pytorch.profilers import Profiler

    return (
        torch.optim.Optimizer,
        torch.optim.lr_scheduler.LRScheduler,
        albumentations.BasicTransform,
        albumentations.BaseCompose,
        L.Callback,
        L.Trainer,
        L.LightningDataModule,
        Logger,
        Profiler,
    )


def is_allowed(target: str) -> bool:
    """True when `target` names a class of a known, safe kind (see the module docstring)."""
    if not isinstance(target, str) or not target.startswith(ALLOWED_PACKAGES):
        return False
    module_name, _, name = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        return False
    if not isinstance(found, type):
        return False
    if found.__module__.startswith(LOSS_MODULES):
        import torch

        return issubclass(found, torch.nn.Module)
    return issubclass(found, _allowed_bases())


def targets(node: Any) -> Iterator[str]:
    """Every `_target_` value in a nested config of mappings and lists."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "_target_":
                yield value
            else:
                yield from targets(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from targets(item)


def check_targets(node: Any, source: str) -> None:
    """Raise ConfigError naming `source` (the file) if `node` names a target not allowed."""
    for target in targets(node):
        if not is_allowed(target):
            raise ConfigError(
                f"{source} names _target_ {target!r}, which is not a known loss, optimizer, "
                "scheduler, transform, callback, logger or profiler class: refusing to run it "
                "(only open files written by drone_seg.train)"
            )
