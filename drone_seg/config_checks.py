"""Start-up checks of a composed config: types and ranges, per-class lengths, files, mandatory keys.

Every command calls `check_config` first, before any data scan or model build, so that a mistake
in a config file or an override stops the run in one line naming the key, the value and what is
expected, instead of a traceback minutes later. This is a validation pass over the composed config
rather than a structured-config schema: the YAML files under conf/ stay the only source of
defaults, and the messages are ours rather than Hydra's multi-line ones. A key that is absent
(deleted with `~key`, or not in the chosen preset) is not checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from drone_seg.classes import NUM_CLASSES
from drone_seg.data.splitting.assignment import STRATEGIES
from drone_seg.errors import ConfigError

# How to set a mandatory key, for the keys users most often leave out.
MANDATORY_HINTS: dict[str, str] = {
    "ckpt_path": "<run>/checkpoints/best.ckpt",
    "input": "<an image, a video, a folder or a quoted glob>",
    "model.name": "<a network>, or choose a preset with model=<file in conf/model>",
}
# Lightning's precision names (lightning.fabric.plugins.precision.precision._PRECISION_INPUT).
PRECISIONS: tuple[Any, ...] = (
    64, 32, 16, "64", "32", "16", "bf16", "64-true", "32-true", "16-true", "bf16-true",
    "16-mixed", "bf16-mixed", "transformer-engine", "transformer-engine-float16",
)  # fmt: skip
_ABSENT = object()


@dataclass(frozen=True)
class Rule:
    """What a key must hold: `accepts(value)` says whether it does, `expected` says it in words
    (or returns the words, when they need an import made only for a wrong value), `example` is
    a value that would do (shown as `e.g. key=example`)."""

    accepts: Callable[[Any], bool]
    expected: str | Callable[[], str]
    example: str

    @property
    def description(self) -> str:
        return self.expected() if callable(self.expected) else self.expected

    def message(self, key: str, value: Any) -> str:
        problem = f"{key}={shown(value)} must be {self.description} (e.g. {key}={self.example})"
        return problem + _quoted_number_hint(value, self)


def _quoted_number_hint(value: Any, rule: Rule) -> str:
    """Why a number was refused when it is a number in quotes (YAML and Hydra read it as text)."""
    try:
        number = float(value) if isinstance(value, str) else None
    except ValueError:
        return ""
    if number is None or not (rule.accepts(number) or rule.accepts(int(number))):
        return ""
    return f"; {value} was quoted, which makes it text: write it without quotes"


def shown(value: Any) -> str:
    """A value as it would be typed on the command line: null, true, [1,2], text unquoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(shown(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def is_int(value: Any) -> bool:
    """An int, and not a bool (which Python counts as an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def nullable(rule: Rule) -> Rule:
    """`rule`, or null."""
    return Rule(
        lambda v: v is None or rule.accepts(v), lambda: f"{rule.description} or null", rule.example
    )


def integer(at_least: int | None = None, example: str = "1") -> Rule:
    """An integer, at least `at_least` when given."""
    bound = "" if at_least is None else f" >= {at_least}"
    return Rule(
        lambda v: is_int(v) and (at_least is None or v >= at_least), f"an integer{bound}", example
    )


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    example: str,
) -> Rule:
    """A finite number within the given bounds (closed unless `open_low` / `open_high`)."""

    def accepts(value: Any) -> bool:
        if not is_number(value):
            return False
        above = low is None or (value > low if open_low else value >= low)
        below = high is None or (value < high if open_high else value <= high)
        return above and below

    if low is not None and high is not None:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        expected = f"a number in {left}{low:g}, {high:g}{right}"
    elif low is not None:
        expected = f"a number {'>' if open_low else '>='} {low:g}"
    elif high is not None:
        expected = f"a number {'<' if open_high else '<='} {high:g}"
    else:
        expected = "a number"
    return Rule(accepts, expected, example)


def boolean() -> Rule:
    return Rule(lambda v: isinstance(v, bool), "true or false", "true")


def text(example: str) -> Rule:
    """A non-empty string."""
    return Rule(lambda v: isinstance(v, str) and bool(v), "a non-empty string", example)


def one_of(choices: Iterable[Any] | Callable[[], Iterable[Any]], example: str) -> Rule:
    """One of `choices`; a callable is only called when a value is checked (a heavy import)."""

    def options() -> list[Any]:
        return list(choices() if callable(choices) else choices)

    def accepts(value: Any) -> bool:
        return not isinstance(value, bool) and value in options()

    return Rule(accepts, lambda: "one of " + ", ".join(shown(c) for c in options()), example)


def list_of(count: int, item: Rule, expected: str, example: str, ascending: bool = False) -> Rule:
    """A list of exactly `count` values that each pass `item` (non-decreasing if `ascending`)."""

    def accepts(value: Any) -> bool:
        if not isinstance(value, list) or len(value) != count:
            return False
        if not all(item.accepts(v) for v in value):
            return False
        return not ascending or all(a <= b for a, b in pairwise(value))

    return Rule(accepts, expected, example)


def either(*rules: Rule, expected: str, example: str) -> Rule:
    """A value that passes any one of `rules`."""
    return Rule(lambda v: any(r.accepts(v) for r in rules), expected, example)


def under(prefix: str, rules: dict[str, Rule]) -> dict[str, Rule]:
    """The same rules keyed by their full key, `prefix.key`."""
    return {f"{prefix}.{key}": rule for key, rule in rules.items()}


def _accelerators() -> list[str]:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return ["auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators())]


def _networks() -> tuple[str, ...]:
    from drone_seg.models.networks import NETWORKS

    return NETWORKS


def _is_devices(value: Any) -> bool:
    """Lightning's `devices`: a count (-1: all), auto, a list of indices or "0,1"."""
    if is_int(value):
        return value >= 1 or value == -1
    if isinstance(value, str):
        return value == "auto" or re.fullmatch(r"-1|\d+(,\d+)*,?", value) is not None
    return isinstance(value, list) and bool(value) and all(is_int(i) and i >= 0 for i in value)


POSITIVE_INT = integer(1)
PAIR = list_of(2, POSITIVE_INT, "[height, width], two integers >= 1", "[256,256]")
BATCH_LIMIT = either(
    integer(0),
    number(0, 1, example="0.25"),
    Rule(lambda v: v is None, "null", "null"),
    expected="a number of batches (an integer >= 0), a fraction in [0, 1], or null (all)",
    example="0.25",
)

TOP: dict[str, Rule] = {"seed": integer(example="42")}
TRAIN: dict[str, Rule] = {"tune_lr": boolean()}
TRAINER = under(
    "trainer",
    {
        "accelerator": one_of(_accelerators, "cpu"),
        "devices": Rule(_is_devices, "a positive integer, -1 (all), auto or device indices", "1"),
        "num_nodes": integer(1, "1"),
        "precision": one_of(PRECISIONS, "16-mixed"),
        "max_epochs": nullable(integer(-1, "10")),
        "max_steps": integer(-1, "1000"),
        "limit_train_batches": BATCH_LIMIT,
        "limit_val_batches": BATCH_LIMIT,
        "limit_test_batches": BATCH_LIMIT,
        "limit_predict_batches": BATCH_LIMIT,
        "fast_dev_run": either(
            boolean(), integer(0), expected="true, false or a number of batches", example="true"
        ),
        "num_sanity_val_steps": integer(-1, "2"),
        "accumulate_grad_batches": integer(1, "2"),
        "gradient_clip_val": nullable(number(0, example="1.0")),
        "check_val_every_n_epoch": nullable(integer(1, "1")),
        "log_every_n_steps": integer(0, "10"),
        "enable_progress_bar": boolean(),
        "deterministic": either(
            boolean(), one_of(["warn"], "warn"), expected="true, false or warn", example="true"
        ),
        "sync_batchnorm": boolean(),
    },
)
DATA = under(
    "data",
    {
        "root": nullable(text("data/aeroscapes")),
        "images_dir": text("JPEGImages"),
        "masks_dir": text("SegmentationClass"),
        "ids_file": nullable(text("ImageSets/trn.txt")),
        "split": one_of(STRATEGIES, "sequence"),
        "split_file": nullable(text("logs/train/runs/<run>/split.csv")),
        "val_fraction": number(0, 1, open_low=True, open_high=True, example="0.2"),
        "seed": integer(example="42"),
        "split_seed": integer(example="42"),
        "cache_dir": nullable(text("~/.cache/drone_seg")),
        "batch_size": integer(1, "8"),
        "val_batch_size": nullable(integer(1, "2")),
        "num_workers": integer(0, "2"),
        "pin_memory": boolean(),
        "prefetch_factor": integer(1, "2"),
        "synthetic.num_images": integer(1, "400"),
        "synthetic.seed": integer(example="0"),
        "synthetic.width": integer(1, "480"),
        "synthetic.height": integer(1, "272"),
        "synthetic.frames_per_sequence": integer(1, "5"),
    },
)
AUGMENT = under(
    "augment",
    {
        "crop_size": PAIR,
        "val_size": PAIR,
        "crop_scale": list_of(
            2,
            number(0, 1, open_low=True, example="0.5"),
            "[low, high], two area fractions in (0, 1], low <= high",
            "[0.25,1.0]",
            ascending=True,
        ),
    },
)
MODEL = under(
    "model",
    {
        "name": one_of(_networks, "lraspp_mobilenet_v3_large"),
        "weights": nullable(text("DEFAULT")),
        "weights_backbone": nullable(text("DEFAULT")),
        "encoder": nullable(text("resnet34")),
        "aux_loss": boolean(),
        "aux_weight": number(0, example="0.5"),
        "bn_momentum": nullable(number(0, 1, example="0.1")),
        "mean": list_of(3, number(example="0.5"), "3 numbers (R, G, B)", "[0.485,0.456,0.406]"),
        "std": list_of(
            3,
            number(0, open_low=True, example="0.2"),
            "3 numbers > 0 (R, G, B)",
            "[0.229,0.224,0.225]",
        ),
        "channels_last": boolean(),
        "compile": boolean(),
    },
)
LOSS = under(
    "loss",
    {
        "focal_weight": number(0, example="0.5"),
        "dice_weight": number(0, example="0.5"),
        "gamma": number(0, example="2.0"),
        "smooth": number(0, example="1.0"),
        "class_weights": either(
            Rule(lambda v: v is None, "null", "null"),
            list_of(NUM_CLASSES, number(0, example="1.0"), "", ""),
            expected=f"null or a list of {NUM_CLASSES} numbers >= 0, one per class (python -m "
            "drone_seg.stats prints them for a dataset)",
            example="[" + ",".join(["1.0"] * NUM_CLASSES) + "]",
        ),
        "log_dice": boolean(),
        "ignore_index": integer(example="255"),
    },
)
OPTIMIZER = under(
    "optimizer",
    {
        "lr": number(0, open_low=True, example="0.01"),
        "weight_decay": number(0, example="5.0e-4"),
        "momentum": number(0, 1, open_high=True, example="0.9"),
        "nesterov": boolean(),
    },
)
SCHEDULER = under(
    "scheduler",
    {
        "pct_start": number(0, 1, open_low=True, open_high=True, example="0.1"),
        "div_factor": number(0, open_low=True, example="25.0"),
        "final_div_factor": number(0, open_low=True, example="1.0e4"),
        "anneal_strategy": one_of(["cos", "linear"], "cos"),
        "cycle_momentum": boolean(),
    },
)
SIZE = either(
    POSITIVE_INT, PAIR, expected="a positive integer or [height, width]", example="[272,480]"
)
PREDICT: dict[str, Rule] = {
    "input": text("photos/"),
    "output": text("predictions/"),
    "overwrite": boolean(),
    "device": text("cpu"),
    "batch_size": integer(1, "8"),
    "size": nullable(SIZE),
    "default_size": SIZE,
    "tile.enabled": boolean(),
    "tile.size": SIZE,
    "tile.overlap": integer(0, "128"),
    "tile.scale": number(0, open_low=True, example="1.0"),
    "tta.hflip": boolean(),
    "tta.scales": Rule(
        lambda v: isinstance(v, list) and bool(v) and all(is_number(s) and s > 0 for s in v),
        "a non-empty list of numbers > 0",
        "[0.75,1.0,1.25]",
    ),
    "submission": nullable(one_of(["csv"], "csv")),
    "overlay_alpha": number(0, 1, example="0.5"),
}
BATCH_SHAPE = list_of(3, POSITIVE_INT, "[batch, height, width]", "[2,181,333]")
EXPORT: dict[str, Rule] = {
    "format": one_of(["onnx", "torchscript"], "onnx"),
    "opset": integer(7, "17"),
    "size": nullable(PAIR),
    "default_size": PAIR,
    "check_shapes": Rule(
        lambda v: isinstance(v, list) and all(BATCH_SHAPE.accepts(s) for s in v),
        "a list of [batch, height, width] lists of positive integers",
        "[[2,181,333]]",
    ),
    "seed": integer(example="0"),
    "tolerance": number(0, example="1.0e-4"),
}


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
        if value is not _ABSENT and not rule.accepts(value):
            raise ConfigError(rule.message(key, value))
    for cross_check in checks.cross_checks:
        cross_check(cfg)
    if checks.checkpoint != "none":
        check_checkpoint(cfg, required=checks.checkpoint == "required")
    if checks.data_files:
        check_data_files(cfg, relative_ids=command != "eval")


def select(cfg: DictConfig, key: str) -> Any:
    """The resolved value at `key` as plain Python (lists, dicts), or _ABSENT if there is none."""
    try:
        value = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=True)
    except OmegaConfBaseException as error:
        reason = str(error).splitlines()[0]
        raise ConfigError(f"{key} cannot be resolved: {reason}") from None
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


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
    unset = [key for key in required if key in left or select(cfg, key) in (None, "", _ABSENT)]
    unset += [key for key in left if key not in unset]
    if unset:
        key = unset[0]
        raise ConfigError(f"{key} is not set: pass {key}={MANDATORY_HINTS.get(key, '<value>')}")


def check_checkpoint(cfg: DictConfig, required: bool) -> None:
    """`ckpt_path` names an existing file (train: only when set, to resume)."""
    value = select(cfg, "ckpt_path")
    if value in (None, _ABSENT) and not required:
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
        if root in (None, _ABSENT):
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
    if select(cfg, "optimizer.nesterov") is True and momentum in (0, _ABSENT):
        raise ConfigError(
            "optimizer.nesterov=true needs optimizer.momentum > 0 (e.g. optimizer.momentum=0.9), "
            "or set optimizer.nesterov=false"
        )


def check_schedule_length(cfg: DictConfig) -> None:
    """A schedule (1-cycle) is planned over the run's steps: the run must have an end."""
    if not select(cfg, "scheduler"):
        return
    epochs, steps = select(cfg, "trainer.max_epochs"), select(cfg, "trainer.max_steps")
    if epochs == -1 and steps in (-1, _ABSENT):
        raise ConfigError(
            "trainer.max_epochs=-1 and trainer.max_steps=-1 make an endless run, over which the "
            "scheduler cannot be planned: set trainer.max_epochs or trainer.max_steps, or "
            "scheduler=none"
        )


def check_tile_overlap(cfg: DictConfig) -> None:
    """Tiles must advance: the overlap is smaller than the tile."""
    if select(cfg, "tile.enabled") is not True:
        return
    size, overlap = select(cfg, "tile.size"), select(cfg, "tile.overlap")
    smallest = min(size) if isinstance(size, list) else size
    if overlap >= smallest:
        raise ConfigError(
            f"tile.overlap={overlap} must be smaller than tile.size={shown(size)} "
            f"(e.g. tile.overlap={smallest // 4})"
        )


DATA_RULES = {**TOP, **DATA, **AUGMENT}
COMMANDS: dict[str, CommandChecks] = {
    "train": CommandChecks(
        {**DATA_RULES, **TRAIN, **TRAINER, **MODEL, **LOSS, **OPTIMIZER, **SCHEDULER},
        checkpoint="optional",
        data_files=True,
        cross_checks=(check_nesterov, check_schedule_length),
    ),
    "eval": CommandChecks({**DATA_RULES, **TRAINER}, checkpoint="required", data_files=True),
    "predict": CommandChecks(
        PREDICT, checkpoint="required", data_files=False, cross_checks=(check_tile_overlap,)
    ),
    "export": CommandChecks(EXPORT, checkpoint="required", data_files=False),
    "stats": CommandChecks(DATA_RULES, checkpoint="none", data_files=True),
    "split": CommandChecks(
        {**DATA_RULES, "split_file": text("split.csv")}, checkpoint="none", data_files=True
    ),
    "prepare": CommandChecks(
        {"size": nullable(integer(at_least=1, example="1000000")), "keep_archive": boolean()},
        checkpoint="none",
        data_files=False,
    ),
    # The renderer checks its own arguments (drone_seg.synthetic.builder), naming each key.
    "synthesize": CommandChecks({}, checkpoint="none", data_files=False),
}
