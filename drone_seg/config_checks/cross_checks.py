"""The checks that read several keys, or the disk: mandatory keys, the checkpoint and data files,
and pairs of keys that only make sense together (nesterov and momentum, tile and overlap)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from drone_seg.config_checks.rules import ABSENT, is_int, select, shown
from drone_seg.errors import ConfigError

# How to set a mandatory key, for the keys users most often leave out.
MANDATORY_HINTS: dict[str, str] = {
    "ckpt_path": "<run>/checkpoints/best.ckpt",
    "input": "<an image, a video, a folder or a quoted glob>",
    "model.name": "<a network>, or choose a preset with model=<file in conf/model>",
    "suite": "<data, train, overhead, infer, memory or all>",
}


def missing_keys(node: DictConfig | ListConfig, prefix: str = "") -> Iterator[str]:
    """Full keys of the values left `???`, without resolving any interpolation."""
    keys: Iterable[Any] = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        full = f"{prefix}{key}"
        if OmegaConf.is_missing(node, key):
            yield full
        elif not OmegaConf.is_interpolation(node, key):
            child = node[key]
            if isinstance(child, DictConfig | ListConfig):
                yield from missing_keys(child, f"{full}.")


def check_mandatory(cfg: DictConfig, required: tuple[str, ...] = ()) -> None:
    """Refuse a value left `???` (Hydra's mandatory marker), and a `required` key left null;
    the `required` keys are named first."""
    left = [key for key in missing_keys(cfg) if not key.startswith("hydra.")]
    unset = [key for key in required if key in left or select(cfg, key) in (None, "", ABSENT)]
    unset += [key for key in left if key not in unset]
    if unset:
        key = unset[0]
        raise ConfigError(f"{key} is not set: pass {key}={MANDATORY_HINTS.get(key, '<value>')}")


def check_checkpoint(cfg: DictConfig, required: bool) -> None:
    """`ckpt_path` names an existing file (train: only when set, to resume)."""
    value = select(cfg, "ckpt_path")
    if value in (None, ABSENT) and not required:
        return
    if not isinstance(value, str):
        raise ConfigError(f"ckpt_path={shown(value)} must be a file path")
    run_file = "last.ckpt" if not required else "best.ckpt"
    fix = f"point it at a checkpoint file, e.g. ckpt_path=<run>/checkpoints/{run_file}"
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(f"ckpt_path={value} is a folder, not a file: {fix}")
    if not path.is_file():
        raise ConfigError(f"ckpt_path={value} does not exist: {fix}")


def check_data_files(cfg: DictConfig, relative_ids: bool = True) -> None:
    """`data.split_file` and `data.ids_file` exist, the latter found as the data code finds it:
    `<data root>/<ids_file>`, the root being `data.root`, else the synthetic set's folder.

    A relative ids_file is only checked once its root exists (a missing root is the data
    checks' to report; the synthetic set writes its id lists when it is generated), and not at
    all when `relative_ids` is false (eval takes data.root from the checkpoint's run)."""
    split_file = select(cfg, "data.split_file")
    if isinstance(split_file, str) and not Path(split_file).expanduser().is_file():
        raise ConfigError(
            f"data.split_file={split_file} does not exist: point it at a CSV image,subset such "
            "as a run's split.csv, or set data.split_file=null"
        )
    ids_file = select(cfg, "data.ids_file")
    if not isinstance(ids_file, str):
        return
    if Path(ids_file).is_absolute():
        path = Path(ids_file)
    else:
        root = select(cfg, "data.root")
        if root in (None, ABSENT):
            root = select(cfg, "data.synthetic.dir")
        if not relative_ids or not isinstance(root, str) or not Path(root).is_dir():
            return
        path = Path(root) / ids_file
    if not path.is_file():
        raise ConfigError(
            f"data.ids_file={ids_file} does not exist ({path}; a relative path is read from "
            "data.root): point it at a text file of image ids, or set data.ids_file=null"
        )


def check_nesterov(cfg: DictConfig) -> None:
    """torch's SGD refuses Nesterov without momentum, at the first step: say it now."""
    momentum = select(cfg, "optimizer.momentum")
    if select(cfg, "optimizer.nesterov") is True and momentum in (0, ABSENT):
        raise ConfigError(
            "optimizer.nesterov=true needs optimizer.momentum > 0 (e.g. optimizer.momentum=0.9), "
            "or set optimizer.nesterov=false"
        )


def check_schedule_length(cfg: DictConfig) -> None:
    """A schedule (1-cycle) is planned over the run's steps: the run must have an end."""
    if not select(cfg, "scheduler"):
        return
    epochs, steps = select(cfg, "trainer.max_epochs"), select(cfg, "trainer.max_steps")
    if epochs == -1 and steps in (-1, ABSENT):
        raise ConfigError(
            "trainer.max_epochs=-1 and trainer.max_steps=-1 make an endless run, over which the "
            "scheduler cannot be planned: set trainer.max_epochs or trainer.max_steps, or "
            "scheduler=none"
        )


def check_validation_runs(cfg: DictConfig) -> None:
    """A run validating every N epochs must last N: else it ends with no val/dice, best.ckpt or
    metrics.json (limit_val_batches=0 turns validation off on purpose)."""
    every, epochs = (
        select(cfg, "trainer.check_val_every_n_epoch"),
        select(cfg, "trainer.max_epochs"),
    )
    if select(cfg, "trainer.limit_val_batches") == 0 or not isinstance(every, int):
        return
    if isinstance(epochs, int) and 0 < epochs < every:
        raise ConfigError(
            f"trainer.check_val_every_n_epoch={every} with trainer.max_epochs={epochs}: the run "
            "would never validate (no val/dice, best.ckpt or metrics.json); set "
            f"trainer.check_val_every_n_epoch={epochs} or more epochs"
        )


def check_tile_overlap(cfg: DictConfig, prefix: str = "") -> None:
    """Tiles must advance: the overlap is smaller than the tile (predict's `tile`, or the one
    under `prefix`)."""
    if select(cfg, f"{prefix}tile.enabled") is not True:
        return
    size, overlap = select(cfg, f"{prefix}tile.size"), select(cfg, f"{prefix}tile.overlap")
    smallest = min(size) if isinstance(size, list) else size
    if overlap >= smallest:
        raise ConfigError(
            f"{prefix}tile.overlap={overlap} must be smaller than {prefix}tile.size={shown(size)} "
            f"(e.g. {prefix}tile.overlap={smallest // 4})"
        )


def check_protocol_tile_overlap(cfg: DictConfig) -> None:
    """eval's protocol tiles must advance too."""
    check_tile_overlap(cfg, prefix="protocol.")


def check_bench(cfg: DictConfig) -> None:
    """The bench writes a new results file, and its memory suite's tiles must advance."""
    out = select(cfg, "out")
    if isinstance(out, str) and Path(out).expanduser().exists():
        raise ConfigError(f"out={out} exists: name a new file (out=FILE), nothing is overwritten")
    tile, overlap = select(cfg, "memory_tile"), select(cfg, "memory_overlap")
    if is_int(tile) and is_int(overlap) and overlap >= tile:
        raise ConfigError(
            f"memory_overlap={overlap} must be smaller than memory_tile={tile} "
            f"(e.g. memory_overlap={tile // 4})"
        )
