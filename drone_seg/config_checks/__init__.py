"""Start-up checks of a composed config: types and ranges, per-class lengths, files, mandatory keys.

Every command calls `check_config` first, before any data scan or model build, so that a mistake
in a config file or an override stops the run in one line naming the key, the value and what is
expected, instead of a traceback minutes later. This is a validation pass over the composed config
rather than a structured-config schema: the YAML files under conf/ stay the only source of
defaults, and the messages are ours rather than Hydra's multi-line ones. A key that is absent
(deleted with `~key`, or not in the chosen preset) is not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig

from drone_seg.config_checks.cross_checks import (
    check_bench,
    check_checkpoint,
    check_data_files,
    check_mandatory,
    check_nesterov,
    check_protocol_tile_overlap,
    check_schedule_length,
    check_tile_overlap,
    check_validation_runs,
)
from drone_seg.config_checks.rules import (
    ABSENT,
    PRECISIONS,
    Rule,
    boolean,
    integer,
    nullable,
    select,
    text,
)
from drone_seg.config_checks.tables import (
    AUGMENT,
    BENCH,
    DATA,
    EVAL,
    EXPORT,
    LOSS,
    MODEL,
    OPTIMIZER,
    PREDICT,
    SCHEDULER,
    STATS,
    TOP,
    TRAIN,
    TRAINER,
)
from drone_seg.errors import ConfigError
from drone_seg.runs.loggers import check_loggers

__all__ = ["PRECISIONS", "check_config"]


@dataclass(frozen=True)
class CommandChecks:
    """What one command reads: its rules, whether it needs a checkpoint, and data files."""

    rules: dict[str, Rule]
    checkpoint: str  # "required", "optional" (train: resume) or "none"
    data_files: bool
    cross_checks: tuple[Callable[[DictConfig], None], ...] = ()


def check_config(cfg: DictConfig, command: str) -> None:
    """Raise ConfigError, in one line naming the key, for the first mistake found in `cfg` for
    `command` (a key of COMMANDS): a mandatory key left `???`, a value of the wrong type or
    range, a per-class list of the wrong length, a missing file."""
    if command not in COMMANDS:
        raise ValueError(f"no config checks for command {command!r}: one of {', '.join(COMMANDS)}")
    checks = COMMANDS[command]
    check_mandatory(cfg, required=("ckpt_path",) if checks.checkpoint == "required" else ())
    for key, rule in checks.rules.items():
        value = select(cfg, key)
        if value is not ABSENT and not rule.accepts(value):
            raise ConfigError(rule.message(key, value))
    for cross_check in checks.cross_checks:
        cross_check(cfg)
    if checks.checkpoint != "none":
        check_checkpoint(cfg, required=checks.checkpoint == "required")
    if checks.data_files:
        check_data_files(cfg, relative_ids=command != "eval")


DATA_RULES = {**TOP, **DATA, **AUGMENT}
COMMANDS: dict[str, CommandChecks] = {
    "train": CommandChecks(
        {**DATA_RULES, **TRAIN, **TRAINER, **MODEL, **LOSS, **OPTIMIZER, **SCHEDULER},
        checkpoint="optional",
        data_files=True,
        cross_checks=(check_nesterov, check_schedule_length, check_validation_runs, check_loggers),
    ),
    "eval": CommandChecks(
        {**DATA_RULES, **TRAINER, **EVAL},
        checkpoint="required",
        data_files=True,
        cross_checks=(check_protocol_tile_overlap,),
    ),
    "predict": CommandChecks(
        PREDICT, checkpoint="required", data_files=False, cross_checks=(check_tile_overlap,)
    ),
    "export": CommandChecks(EXPORT, checkpoint="required", data_files=False),
    "stats": CommandChecks({**DATA_RULES, **STATS}, checkpoint="none", data_files=True),
    "split": CommandChecks(
        {**DATA_RULES, "split_file": text("split.csv")}, checkpoint="none", data_files=True
    ),
    "prepare": CommandChecks(
        {
            "paths.data_dir": TOP["paths.data_dir"],
            "size": nullable(integer(at_least=1, example="1000000")),
            "keep_archive": boolean(),
        },
        checkpoint="none",
        data_files=False,
    ),
    # The renderer checks its own arguments (drone_seg.synthetic.builder), naming each key.
    "synthesize": CommandChecks(
        {"paths.data_dir": TOP["paths.data_dir"]}, checkpoint="none", data_files=False
    ),
    # The training config the rows are built from, and the bench's own keys (conf/bench.yaml).
    "bench": CommandChecks(
        {**DATA_RULES, **TRAINER, **MODEL, **LOSS, **OPTIMIZER, **SCHEDULER, **BENCH},
        checkpoint="none",
        data_files=True,
        cross_checks=(check_nesterov, check_loggers, check_bench),
    ),
}
