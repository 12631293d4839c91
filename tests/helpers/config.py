"""Composing the commands' configs as their command lines would, and the small-run overrides."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from drone_seg.cli import CONFIG_DIR

# The shipped settings made small: 64x64 crops, 96x160 validation images, batches of 4.
SCALED = ("augment.crop_size=[64,64]", "augment.val_size=[96,160]", "data.batch_size=4")
# A small run in the main process: a training epoch takes a second or two on a CPU.
TINY = (*SCALED, "data.num_workers=0", "trainer.accelerator=cpu")
# A small run through the command line: no sanity validation, no progress bar, pictures only at
# the last epoch.
TINY_TRAIN = (
    *TINY,
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "callbacks.images.every_n_epochs=100",
)
# Where a composed config's run folder points when the test names none: never created.
NO_RUN_DIR = Path("/nonexistent/run")


def compose_config(name: str, *overrides: str, run_dir: Path | None = None) -> DictConfig:
    """`conf/<name>.yaml` with `overrides`, composed as its command line would, Hydra's settings
    included and current (so `${hydra:runtime.output_dir}` resolves, to `run_dir`)."""
    GlobalHydra.instance().clear()
    location = [] if run_dir is None else [f"hydra.run.dir={run_dir}"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(name, overrides=[*location, *overrides], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(NO_RUN_DIR if run_dir is None else run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg
