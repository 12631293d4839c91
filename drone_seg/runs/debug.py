"""Debug runs (`debug=fdr|limit|overfit|profiler`, or `trainer.fast_dev_run`): checks of a config,
not results, so they write no `metrics.json` or split files and no sweep summary ranks them."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf


def debug_label(config: DictConfig) -> str | None:
    """`debug=<preset>` or `trainer.fast_dev_run=<value>` when `config` (a run's composed config)
    makes a debug run, else None."""
    preset = OmegaConf.select(config, "debug.preset", default=None)
    if preset:
        return f"debug={preset}"
    fast_dev_run = OmegaConf.select(config, "trainer.fast_dev_run", default=None)
    return f"trainer.fast_dev_run={fast_dev_run}" if fast_dev_run else None
