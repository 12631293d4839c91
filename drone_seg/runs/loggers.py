"""The run's loggers: built from the `logger` node, checked at start-up, sent pictures, closed.

`logger` holds named loggers, one file of conf/logger/ each (`logger.tensorboard`, `logger.csv`,
...), so that `logger=many` or `logger=[tensorboard,wandb]` runs several at once and `logger=none`
or `~logger` none. Lightning is imported only when loggers are built: the start-up check stays fast.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import DictConfig

from drone_seg.errors import ConfigError

if TYPE_CHECKING:
    from lightning.pytorch import Callback
    from lightning.pytorch.loggers import Logger

PRESETS = "tensorboard, csv, wandb, mlflow, many or none"
# Loggers whose backend is an optional package (the `loggers` extra): class name -> package.
OPTIONAL_PACKAGES = {"WandbLogger": "wandb", "MLFlowLogger": "mlflow"}


def check_loggers(cfg: DictConfig) -> None:
    """Raise ConfigError, in one line, for a `logger` node that is not named loggers or names one
    whose package is not installed (before any data scan, not at the first logged metric)."""
    node = cfg.get("logger")
    if not node:
        return
    if not isinstance(node, DictConfig):
        raise ConfigError(f"logger={node} must be a preset: logger=<{PRESETS}>")
    if "_target_" in node:
        raise ConfigError(
            "logger._target_ is set, but logger holds named loggers: choose a preset, "
            f"logger=<{PRESETS}>, or set logger.<name>._target_=<class>"
        )
    for name, logger in node.items():
        if logger is None:
            continue
        if not isinstance(logger, DictConfig) or "_target_" not in logger:
            raise ConfigError(
                f"logger.{name} must be a logger with a _target_, e.g. logger={name} "
                f"(a file of conf/logger: {PRESETS})"
            )
        package = OPTIONAL_PACKAGES.get(str(logger._target_).rpartition(".")[2])
        if package and importlib.util.find_spec(package) is None:
            raise ConfigError(
                f"logger={name} needs the {package} package, which is not installed: "
                f"pip install {package} (or, in the repository, pip install -e '.[loggers]'), or "
                "choose another logger, e.g. logger=csv"
            )


def instantiate_loggers(config: DictConfig | None) -> list[Logger] | bool:
    """The configured loggers, in the order of the config; False (Lightning: none) for none."""
    from hydra.utils import instantiate

    if config and "_target_" in config:  # the one logger of a run recorded before they had names
        return [instantiate(config)]
    loggers = [instantiate(node) for node in (config or {}).values() if node]
    return loggers or False


def callbacks_for_loggers(
    callbacks: list[Callback], loggers: list[Logger] | bool
) -> list[Callback]:
    """`callbacks` without those that only feed a logger (LearningRateMonitor) when there is no
    logger: Lightning refuses them then, and `logger=none` should not need `callbacks=` too."""
    from lightning.pytorch.callbacks import LearningRateMonitor

    if loggers:
        return callbacks
    return [callback for callback in callbacks if not isinstance(callback, LearningRateMonitor)]


def log_picture(logger: Logger, tag: str, image: np.ndarray, step: int, file: Path) -> None:
    """Send an RGB picture (H, W, 3 uint8), already saved as `file`, to `logger` if it takes
    pictures: TensorBoard and wandb as images, MLflow as the PNG artifact images/<file name>."""
    from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger, WandbLogger

    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_image(tag, image, step, dataformats="HWC")
    elif isinstance(logger, WandbLogger):
        logger.log_image(key=tag, images=[image], step=step)
    elif isinstance(logger, MLFlowLogger):
        logger.experiment.log_artifact(logger.run_id, str(file), artifact_path="images")


def close_loggers(loggers: Sequence[Logger]) -> None:
    """Write out and close every logger, so that a next run in this process (a sweep's) starts its
    own: wandb would otherwise append to the open run of the previous one."""
    from lightning.pytorch.loggers import WandbLogger

    for logger in loggers:
        logger.save()
        logger.finalize("success")
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()
