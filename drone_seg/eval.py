"""Score a checkpoint on a val split: `python -m drone_seg.eval ckpt_path=FILE [overrides]`.

The scores come from the module's own validation step (`trainer.validate`), so they are the
numbers training logged for the same weights and images. The run directory gets the per-class
table as `metrics.csv`, `metrics.json` (training's keys) and `metrics.md`, and the confusion
matrix as `confusion_matrix.png`.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
from pathlib import Path

import cv2
import hydra
import lightning as L
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from drone_seg.config_checks import check_config
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.errors import ConfigError, DroneSegError
from drone_seg.models.module import SegmentationModule
from drone_seg.report import TITLES, class_rows, class_table
from drone_seg.visualize import confusion_image

log = logging.getLogger(__name__)
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")
# The settings that decide which images are scored and how they are resized, taken from training.
DATA_KEYS = ("seed", "data", "augment")
SCORES = tuple(TITLES)


class ConfusionCapture(L.Callback):
    """Keeps the validation epoch's confusion matrix, read before the module resets its scores."""

    def __init__(self) -> None:
        self.matrix: np.ndarray | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.matrix = pl_module.val_scores.compute().cpu().numpy()


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score `cfg.ckpt_path` on its val images, write the report files, return the val metrics."""
    checkpoint = checkpoint_path(cfg.ckpt_path)
    run_dir = checkpoint.parent.parent
    cfg, source = with_training_data(cfg, run_dir / ".hydra" / "config.yaml")
    datamodule = val_data(cfg.data, run_dir / "split.csv")
    capture = ConfusionCapture()
    trainer: L.Trainer = instantiate(
        cfg.trainer, logger=False, callbacks=[capture], enable_checkpointing=False
    )
    module = load_module(checkpoint)
    metrics = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
    split = cfg.data.get("split_file") or "made from the data settings, as training made it"
    header = [
        f"Checkpoint: {checkpoint}",
        f"Data settings: {source}",
        f"Split: {split}",
        f"Images: {len(datamodule.val_ids)} val images of {datamodule.root}",
    ]
    write_report(metrics, capture.matrix, Path(cfg.paths.output_dir), header)
    return metrics


def checkpoint_path(value: str | None) -> Path:
    """Return `ckpt_path` as an existing file, or say how to set it."""
    if not value:
        raise ConfigError("ckpt_path is not set: ckpt_path=<run dir>/checkpoints/best.ckpt")
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={value} not found: point it at a checkpoint file")
    return path


def with_training_data(cfg: DictConfig, run_config: Path) -> tuple[DictConfig, str]:
    """Return `cfg` with seed, data and augment from training's config, this command's on top.

    Only the keys given on this command line (`data.root=...`, `augment.val_size=...`, `data=...`)
    override training's values; the rest of training's data settings, split seed included, stay.
    """
    if not run_config.is_file():
        return cfg, f"this command ({run_config} not found)"
    trained = OmegaConf.load(run_config)
    merged = copy.deepcopy(cfg)
    overrides = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    keys = [o.key_or_group for o in overrides if not o.is_delete()]
    keys = [key for key in keys if key.split(".")[0] in DATA_KEYS]
    with open_dict(merged):
        for key in DATA_KEYS:
            merged[key] = trained[key]
        for key in keys:
            OmegaConf.update(merged, key, OmegaConf.select(cfg, key), merge=False)
    given = f" with this command's {', '.join(keys)}" if keys else ""
    return merged, f"{run_config}{given}"


def val_data(data: DictConfig, run_split: Path) -> DroneDataModule:
    """Set up the data module; warn if its val images are not those of training's `split.csv`."""
    datamodule: DroneDataModule = instantiate(data)
    datamodule.prepare_data()
    datamodule.setup("validate")
    if run_split.is_file():
        with run_split.open(newline="") as file:
            trained = {row["image"] for row in csv.DictReader(file) if row["subset"] == "val"}
        if trained != set(datamodule.val_ids):
            log.warning(
                "These val images are not those of %s: the scores are not training's. Pass "
                "data.split_file=%s to score the images training used",
                run_split,
                run_split,
            )
    return datamodule


def load_module(checkpoint: Path) -> SegmentationModule:
    """Rebuild the checkpoint's module; its weights come from the file, so nothing is downloaded."""
    state = torch.load(checkpoint, map_location="cpu", mmap=True, weights_only=False)
    if "hyper_parameters" not in state:
        raise ConfigError(f"ckpt_path={checkpoint} is not a checkpoint written by drone_seg.train")
    model = {**state["hyper_parameters"]["model"], "weights": None, "weights_backbone": None}
    return SegmentationModule.load_from_checkpoint(checkpoint, map_location="cpu", model=model)


def write_report(
    metrics: dict[str, float], confusion: np.ndarray, out_dir: Path, header: list[str]
) -> None:
    """Write metrics.json, metrics.csv, metrics.md and confusion_matrix.png in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=True) + "\n")
    with (out_dir / "metrics.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["class", *SCORES])
        for name, values in class_rows(metrics, scores=SCORES):
            writer.writerow([name, *(repr(v) for v in values)])
    lines = [*(f"- {line}" for line in header), "", class_table(metrics, scores=SCORES)]
    (out_dir / "metrics.md").write_text("\n".join(lines) + "\n")
    picture = cv2.cvtColor(confusion_image(confusion), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(out_dir / "confusion_matrix.png"), picture)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point: print the table, return val/dice. User errors end in one line."""
    try:
        check_config(cfg, "eval")
        metrics = evaluate(cfg)
    except DroneSegError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"\n{class_table(metrics, scores=SCORES)}")
    print(f"\nRun directory: {HydraConfig.get().runtime.output_dir}")
    return metrics.get("val/dice")


if __name__ == "__main__":
    main()
