"""Train a segmentation model: `python -m drone_seg.train [experiment=...] [overrides]`."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from drone_seg.callbacks.best_metrics import BestMetricsWriter
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.errors import DroneSegError
from drone_seg.models.module import SegmentationModule
from drone_seg.report import class_table

log = logging.getLogger(__name__)
# The repository's conf/, found from this file so that any working directory will do.
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def train(cfg: DictConfig) -> dict[str, float]:
    """Check the data, build module and trainer from `cfg`, fit, and return the best val metrics."""
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    datamodule: DroneDataModule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    write_split(datamodule.split_table(), output_dir / "split.csv")
    module = SegmentationModule(
        model=OmegaConf.to_container(cfg.model, resolve=True),
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        optimizer=OmegaConf.to_container(cfg.optimizer, resolve=True),
        scheduler=OmegaConf.to_container(cfg.scheduler, resolve=True) if cfg.scheduler else None,
    )
    callbacks = [instantiate(callback) for callback in cfg.callbacks.values()]
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=instantiate(cfg.logger)
    )
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    writers = [c for c in callbacks if isinstance(c, BestMetricsWriter)]
    return writers[0].best if writers else {}


def write_split(rows: list[tuple[str, str]], path: Path) -> None:
    """Write the (image, subset) table as CSV, so a run's split can be inspected and reused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", "subset"])
        writer.writerows(rows)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns the best val/dice for sweepers. User errors end in one line."""
    try:
        best = train(cfg)
    except DroneSegError as error:
        raise SystemExit(f"error: {error}") from None
    output_dir = HydraConfig.get().runtime.output_dir
    if best:
        print(f"\nBest validation epoch {best['epoch']}:\n{class_table(best)}")
    print(f"\nRun directory: {output_dir}")
    return best.get("val/dice")


if __name__ == "__main__":
    main()
