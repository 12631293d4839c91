"""Helpers for the notebooks in `notebooks/`: dataset tables, splits, run curves, val predictions.

Thin wrappers over the project's own code (`DataSource`, `split_report`, the run directory and its
checkpoint loader), so that the notebooks' cells stay short and show what the commands use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from drone_seg.classes import IGNORE_INDEX, NUM_CLASSES
from drone_seg.cli import CONFIG_DIR
from drone_seg.data.source import DataSource, dataset_folder
from drone_seg.data.splitting.assignment import STRATEGIES
from drone_seg.errors import DataError, DroneSegError
from drone_seg.runs.checkpoint import RunRecord, inference_network, val_data
from drone_seg.runs.run_dir import RunDir

REPO = Path(__file__).resolve().parents[1]
# The folder that holds the datasets: conf/paths/default.yaml reads it for every command.
DATA_ENV = "DRONE_SEG_DATA"


def _is_dataset(folder: Path) -> bool:
    """Whether `folder` is a dataset in AeroScapes layout rather than a folder of datasets."""
    return (folder / "JPEGImages").is_dir()


def data_root(*overrides: str) -> Path:
    """The dataset `python -m drone_seg.train <overrides>` reads, found as the commands find it:
    in $DRONE_SEG_DATA (the folder that holds the datasets) or else the repository's `data/`;
    by default the synthetic set of `make demo`, `data_root("data=aeroscapes")` for AeroScapes.
    A $DRONE_SEG_DATA that is itself a dataset (`JPEGImages/` in it) is that dataset, as the
    notebooks read the variable before the commands did."""
    env = os.environ.get(DATA_ENV)
    if env and _is_dataset(Path(env)):
        return Path(env)
    cfg = _train_config(*overrides)
    root = dataset_folder(cfg.data)
    if not root:
        raise DataError(f"data.root is null with {' '.join(overrides)}: add data.root=DIR")
    return Path(root)


def _train_config(*overrides: str) -> DictConfig:
    """conf/train.yaml as `python -m drone_seg.train <overrides>` composes it in the repository."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=[f"paths.root_dir={REPO}", *overrides])


def data_source(root: Path, **keys: Any) -> DataSource:
    """The `DataSource` of the dataset at `root` with train's data settings (conf/data/: folders,
    split, seeds), `keys` changed (e.g. `split="sequence"`)."""
    data = _train_config().data
    data.root = str(root)
    for key, value in keys.items():
        data[key] = value
    return DataSource.from_config(data)


def moved_data_root(record: RunRecord) -> str | None:
    """Where the run's dataset is now by $DRONE_SEG_DATA: that folder if it is a dataset itself,
    else the folder of the dataset's name in it (the data folder moved as a whole). None (the
    path the run read) when the variable is unset or names no such folder."""
    env = os.environ.get(DATA_ENV)
    if not env:
        return None
    if _is_dataset(Path(env)):
        return env
    own = dataset_folder(record.data)
    moved = Path(env) / Path(own).name if own else None
    return str(moved) if moved is not None and moved.is_dir() else None


def latest_run(runs: Path = REPO / "logs" / "train" / "runs") -> Path | None:
    """The newest run directory under `runs` that holds a best checkpoint, or None."""
    found = sorted(runs.glob("*/checkpoints/best.ckpt"), key=lambda p: p.stat().st_mtime)
    return RunDir.of_checkpoint(found[-1]).path if found else None


def split_reports(root: Path, strategies: tuple[str, ...] = STRATEGIES) -> dict[str, tuple]:
    """Per strategy, (subset, markdown report) of its split of the dataset at `root`; a strategy
    that cannot split it (e.g. `official` without `ImageSets/`) gives (None, why)."""
    reports = {}
    for strategy in strategies:
        source = data_source(root, split=strategy)
        try:
            source.make_split(check_classes=False)
            reports[strategy] = (source.subset, source.split_report)
        except DroneSegError as error:
            reports[strategy] = (None, f"**{strategy}**: not available: {error}")
    return reports


def read_scalars(tensorboard_dir: Path, tags: list[str]) -> dict[str, tuple[list, list]]:
    """(steps, values) of each scalar tag found in the TensorBoard events under the folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tensorboard_dir), size_guidance={"scalars": 0}).Reload()
    present = set(events.Tags()["scalars"])
    return {
        tag: ([e.step for e in events.Scalars(tag)], [e.value for e in events.Scalars(tag)])
        for tag in tags
        if tag in present
    }


def run_metrics(run_dir: Path) -> dict[str, float]:
    """The run's best-epoch val metrics (`metrics.json`; undefined scores as NaN)."""
    return RunDir(Path(run_dir)).read_metrics()


def val_config(record: RunRecord, split_file: Path, data_root: str | None = None) -> DictConfig:
    """Seed, data and augment of the checkpoint's run, single-process loaders, its split file."""
    cfg = OmegaConf.create({"seed": record.seed, "data": record.data, "augment": record.augment})
    cfg.data.num_workers = 0
    cfg.data.split_file = str(split_file)
    if data_root:
        cfg.data.root = data_root
    return cfg


@dataclass
class ValPredictions:
    """Val images (N, H, W, 3), truths and predictions (N, H, W), ids and the confusion matrix."""

    ids: list[str]
    images: np.ndarray
    targets: np.ndarray
    predictions: np.ndarray
    confusion: np.ndarray


def predict_val(run_dir: Path, data_root: str | None = None, batch_size: int = 8):
    """Run the run's best checkpoint on its val split, at the size training validated at; the
    images are read from `data_root` if given, else as `moved_data_root` says."""
    run = RunDir(Path(run_dir))
    module, record = inference_network(run.best_checkpoint, torch.device("cpu"))
    root = data_root or moved_data_root(record)
    datamodule = val_data(val_config(record, run.split, root), str(run.best_checkpoint))
    images, targets, predictions = [], [], []
    loader = torch.utils.data.DataLoader(datamodule.val_set, batch_size=batch_size)
    with torch.inference_mode():
        for batch in loader:
            predictions.append(module(batch["image"]).argmax(1).numpy())
            images.append(batch["image"].permute(0, 2, 3, 1).numpy())
            targets.append(batch["mask"].numpy())
    targets_all, predictions_all = np.concatenate(targets), np.concatenate(predictions)
    return ValPredictions(
        ids=list(datamodule.val_ids),
        images=np.concatenate(images),
        targets=targets_all,
        predictions=predictions_all,
        confusion=confusion_matrix(targets_all, predictions_all),
    )


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """(classes, classes) pixel counts, rows truth, columns prediction; ignored pixels left out."""
    valid = targets != IGNORE_INDEX
    pairs = targets[valid].astype(np.int64) * NUM_CLASSES + predictions[valid]
    return np.bincount(pairs, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def image_dice(target: np.ndarray, prediction: np.ndarray) -> float:
    """Mean Dice of one image over the classes in its truth or prediction (ignored pixels out)."""
    confusion = confusion_matrix(target, prediction)
    true_positive = np.diag(confusion).astype(float)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    present = denominator > 0
    return float((2 * true_positive[present] / denominator[present]).mean()) if present.any() else 0


def error_map(target: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """RGB picture of one image's errors: white correct, red wrong, grey ignored."""
    picture = np.full((*target.shape, 3), 255, dtype=np.uint8)
    picture[(target != prediction) & (target != IGNORE_INDEX)] = (220, 30, 30)
    picture[target == IGNORE_INDEX] = (128, 128, 128)
    return picture


__all__ = [
    "ValPredictions",
    "confusion_matrix",
    "data_root",
    "error_map",
    "image_dice",
    "latest_run",
    "moved_data_root",
    "predict_val",
    "read_scalars",
    "run_metrics",
    "split_reports",
]
