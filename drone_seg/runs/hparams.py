"""Logs a run's config with its best val metrics to every logger, so that runs compare by them:
TensorBoard's HPARAMS tab, wandb's run table, MLflow's parameters and metrics, CSV's hparams.yaml.

The metrics are logged under `best/` (`best/val/dice`, ...): the best epoch's values, what a sweep
ranks runs by. Logging them under their own `val/...` tags would add a stray point to those curves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

# Config groups whose scalars are hyperparameters; the augmentation pipelines are left out.
GROUPS = ("model", "loss", "optimizer", "scheduler", "data", "augment", "trainer")
SKIPPED_KEYS = frozenset({"train", "val", "train_transform", "val_transform"})
METRICS = ("val/dice", "val/dice_fg", "val/iou", "val/iou_fg", "val/loss")


def flat_hparams(cfg: DictConfig) -> dict[str, Any]:
    """Return the run's scalar settings as `{"seed": 42, "optimizer.lr": 0.01, ...}`."""
    params: dict[str, Any] = {"seed": cfg.seed}
    for group in GROUPS:
        node = cfg.get(group)
        if node:
            params.update(_flatten(OmegaConf.to_container(node, resolve=True), group))
    return params


def _flatten(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        if key.startswith("_") or key in SKIPPED_KEYS:
            continue
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}.{key}")
        else:
            yield f"{prefix}.{key}", value


def log_hparams(
    loggers: Sequence[Logger], cfg: DictConfig, best: Mapping[str, float], step: int
) -> None:
    """Write the hyperparameters and the best epoch's metrics to every logger; TensorBoard takes
    the metrics as its hp-metrics, the others as metrics at the last step."""
    metrics = {f"best/{key}": best[key] for key in METRICS if key in best}
    if not metrics:
        return
    params = flat_hparams(cfg)
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params, metrics, step=step)
        else:
            logger.log_hyperparams(params)
            logger.log_metrics(metrics, step=step)
