"""Score a checkpoint on a val split: `python -m drone_seg.eval ckpt_path=FILE [overrides]`.

The scores come from the module's own validation step (`trainer.validate`), so they are the
numbers training logged for the same weights and images. The run directory gets the per-class
table as `metrics.csv`, `metrics.json` (training's keys) and `metrics.md`, and the confusion
matrix as `confusion_matrix.png`.
"""

from __future__ import annotations

import copy
import csv
import logging
from pathlib import Path

import cv2
import lightning as L
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from drone_seg.cli import command
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.data.splitting.assignment import TRAIN, VAL, write_split_file
from drone_seg.errors import ConfigError
from drone_seg.reporting.class_tables import TITLES, class_rows, class_table
from drone_seg.reporting.pictures import confusion_image
from drone_seg.runs.allowlist import check_targets
from drone_seg.runs.checkpoint import RunRecord
from drone_seg.runs.loading import evaluation_module
from drone_seg.runs.run_dir import write_metrics

log = logging.getLogger(__name__)
# The settings that decide which images are scored and how they are resized, taken from training.
DATA_KEYS = ("seed", "data", "augment")
# Keys by which a command line chooses its own split instead of the checkpoint's.
SPLIT_KEYS = ("split", "split_file", "split_seed", "val_fraction", "official_split", "ids_file")
SCORES = tuple(TITLES)


class ConfusionCapture(L.Callback):
    """Keeps the validation epoch's confusion matrix, read before the module resets its scores."""

    def __init__(self) -> None:
        self.matrix: np.ndarray | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.matrix = pl_module.val_scores.compute().cpu().numpy()


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score `cfg.ckpt_path` on its val images, write the report files, return the val metrics."""
    if not cfg.ckpt_path:
        raise ConfigError("ckpt_path is not set: ckpt_path=<run dir>/checkpoints/best.ckpt")
    checkpoint = Path(cfg.ckpt_path)
    module, record = evaluation_module(checkpoint)
    cfg, source = with_training_data(cfg, record)
    out_dir = Path(cfg.paths.output_dir)
    split = split_to_score(cfg, record, out_dir / "split.csv")
    datamodule = val_data(cfg, f"ckpt_path={checkpoint}")
    capture = ConfusionCapture()
    trainer: L.Trainer = instantiate(
        cfg.trainer, logger=False, callbacks=[capture], enable_checkpointing=False
    )
    metrics = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
    header = [
        f"Checkpoint: {checkpoint}",
        f"Data settings: {source}",
        f"Split: {split}",
        f"Images: {len(datamodule.val_ids)} val images of {datamodule.root}",
    ]
    write_report(metrics, capture.matrix, out_dir, header)
    return metrics


def _command_keys() -> list[str]:
    """The keys this command line sets (`data.root`, `augment.val_size`, `data`, ...)."""
    overrides = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    return [o.key_or_group for o in overrides if not o.is_delete()]


def with_training_data(cfg: DictConfig, record: RunRecord) -> tuple[DictConfig, str]:
    """Return `cfg` with seed, data and augment from the checkpoint's run, this command's on top.

    Only the keys given on this command line (`data.root=...`, `augment.val_size=...`, `data=...`)
    override training's values; the rest of training's data settings stay.
    """
    merged = copy.deepcopy(cfg)
    keys = [key for key in _command_keys() if key.split(".")[0] in DATA_KEYS]
    with open_dict(merged):
        merged.seed = record.seed
        merged.data = record.data
        merged.augment = record.augment
        for key in keys:
            OmegaConf.update(merged, key, OmegaConf.select(cfg, key), merge=False)
    given = f" with this command's {', '.join(keys)}" if keys else ""
    return merged, f"the checkpoint's run{given}"


def split_to_score(cfg: DictConfig, record: RunRecord, path: Path) -> str:
    """Point `cfg.data.split_file` at the checkpoint's own split, written to `path`, unless this
    command chose a split (`data.split_file`, `data.split`, ...); say which split is scored."""
    chosen = [key for key in _command_keys() if key.split(".")[-1] in SPLIT_KEYS]
    if chosen:
        return f"this command's {', '.join(chosen)}"
    ids = [*record.split_train, *record.split_val]
    subset = np.array([TRAIN] * len(record.split_train) + [VAL] * len(record.split_val))
    write_split_file(path, ids, subset)
    with open_dict(cfg):
        cfg.data.split_file = str(path)
    return f"the checkpoint's own ({record.split_source}), written to {path}"


def val_data(cfg: DictConfig, source: str) -> DroneDataModule:
    """The data module of `cfg.data`, set up for validation; its targets must be allowlisted."""
    check_targets(OmegaConf.to_container(cfg.data, resolve=False), source)
    check_targets(OmegaConf.to_container(cfg.augment, resolve=False), source)
    datamodule: DroneDataModule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("validate")
    return datamodule


def write_report(
    metrics: dict[str, float], confusion: np.ndarray, out_dir: Path, header: list[str]
) -> None:
    """Write metrics.json, metrics.csv, metrics.md and confusion_matrix.png in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_metrics(out_dir / "metrics.json", metrics)
    with (out_dir / "metrics.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["class", *SCORES])
        for name, values in class_rows(metrics, scores=SCORES):
            writer.writerow([name, *(repr(v) for v in values)])
    lines = [*(f"- {line}" for line in header), "", class_table(metrics, scores=SCORES)]
    (out_dir / "metrics.md").write_text("\n".join(lines) + "\n")
    picture = cv2.cvtColor(confusion_image(confusion), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(out_dir / "confusion_matrix.png"), picture)


@command("eval")
def main(cfg: DictConfig) -> float | None:
    """Score the checkpoint, print the table; return val/dice."""
    metrics = evaluate(cfg)
    print(f"\n{class_table(metrics, scores=SCORES)}")
    print(f"\nRun directory: {HydraConfig.get().runtime.output_dir}")
    return metrics.get("val/dice")


if __name__ == "__main__":
    main()
