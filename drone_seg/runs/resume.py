"""Resuming a run: in its own folder by default, with its own config and the command line on top.

`python -m drone_seg.train ckpt_path=<run>/checkpoints/last.ckpt [overrides]` continues in `<run>`
(same TensorBoard run, same best.ckpt and metrics.json), with the config saved in the checkpoint and
only the keys given on the command line changed. Hydra writes the new command's config under
`<run>/.hydra/resume-<time>/`, so the run's own `.hydra/config.yaml` stays as it was (the folder
and subfolder come from the resolvers in `drone_seg.runs.resolvers`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from drone_seg.allowlist import check_targets
from drone_seg.errors import ConfigError
from drone_seg.runs.checkpoint import RunRecord
from drone_seg.runs.confinement import check_confined, check_data_confined
from drone_seg.runs.run_dir import RunDir

log = logging.getLogger(__name__)

# Top-level keys whose change on resume means other images or another split than the run's.
DATA_KEYS: frozenset[str] = frozenset({"data", "augment", "seed"})


def resumed_config(
    cfg: DictConfig, record: RunRecord, overrides: list[str], choices: dict[str, str]
) -> tuple[DictConfig, dict[str, str]]:
    """The run's saved config with the command line's `overrides` on top, as composed in `cfg`,
    and the resulting config-group choices.

    `choices` are this command's config-group choices (Hydra's runtime.choices): a group option
    given on the command line replaces the run's node for that group; a global preset
    (`experiment=`) other than the run's cannot be re-applied key by key and is refused.
    """
    check_targets(record.config, f"ckpt_path={record.path}")
    merged = OmegaConf.create(record.config)
    stored_choices = record.choices
    new_choices = dict(stored_choices)
    changed = []
    with open_dict(merged):
        for override in OverridesParser.create().parse_overrides(overrides):
            key = override.key_or_group
            if key.startswith("hydra") or key == "ckpt_path":
                continue
            if key in choices and choices[key] == stored_choices.get(key):
                continue
            if override.is_delete():
                _delete(merged, key)
            elif OmegaConf.select(cfg, key, default=None) is None and key in choices:
                raise ConfigError(
                    f"{key}={choices[key]} with ckpt_path=: a resumed run keeps its own config "
                    f"({key}={stored_choices.get(key)}); drop {key}=, or set the keys to change"
                )
            else:
                OmegaConf.update(merged, key, OmegaConf.select(cfg, key), merge=False)
            if key in choices:
                new_choices[key] = choices[key]
            changed.append(key)
        merged.ckpt_path = cfg.ckpt_path
        merged.paths = cfg.paths  # where this machine keeps data and runs, not the record's
        if "hydra" in cfg:
            merged.hydra = cfg.hydra
    source = f"ckpt_path={record.path}"
    check_confined(merged, changed, Path(cfg.paths.output_dir), source)
    check_data_confined(merged, changed, source)
    touched = sorted(key for key in changed if key.split(".")[0] in DATA_KEYS)
    if touched:
        log.warning(
            "Resuming with %s changed: the data or split may differ from the run's own",
            ", ".join(touched),
        )
    return merged, new_choices


def _delete(config: DictConfig, key: str) -> None:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(config, parent) if parent else config
    if isinstance(node, DictConfig) and leaf in node:
        del node[leaf]


def check_run_folder(run: RunDir, ckpt_path: str | None) -> None:
    """Refuse a new run into a folder that already holds another run's checkpoints."""
    if not run.holds_checkpoints():
        return
    resuming_here = ckpt_path and RunDir.of_checkpoint(Path(ckpt_path)) == RunDir(
        run.path.resolve()
    )
    if not resuming_here:
        raise ConfigError(
            f"hydra.run.dir={run.path} already holds checkpoints of another run: resume it with "
            f"ckpt_path={run.last_checkpoint}, or choose another hydra.run.dir"
        )


def relocate_callback_states(checkpoint: dict, ckpt_path: str | None, output_dir: str) -> None:
    """Point the paths a checkpoint's callbacks remember at the run folder it now sits in.

    A run folder moved or copied before resuming keeps its best checkpoint and best metrics only
    if ModelCheckpoint and BestMetricsWriter see their own folder in the saved state; resuming into
    another folder on purpose (`hydra.run.dir=`) keeps the saved paths, and so starts afresh there.
    """
    run = RunDir.of_checkpoint(Path(ckpt_path)) if ckpt_path else None
    if run is None or run.path != Path(output_dir).resolve():
        return
    for state in checkpoint.get("callbacks", {}).values():
        saved = state.get("dirpath") or state.get("path")  # <run>/checkpoints, <run>/metrics.json
        if isinstance(saved, str) and Path(saved).parent != run.path:
            _replace_prefix(state, str(Path(saved).parent), str(run.path))


def _replace_prefix(state: dict, old: str, new: str) -> None:
    """Replace the folder prefix `old` by `new` in every path (values and keys) of `state`."""

    def moved(value: object) -> object:
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            return new + value[len(old) :]
        if isinstance(value, dict):
            return {moved(k): moved(v) for k, v in value.items()}
        return value

    for key, value in list(state.items()):
        state[key] = moved(value)
