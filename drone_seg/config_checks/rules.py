"""The building blocks of the start-up checks: a `Rule` says what a key must hold and words its
one-line error; the constructors below make the common ones; `select` reads a key's value."""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from drone_seg.errors import ConfigError

# Lightning's precision names (lightning.fabric.plugins.precision.precision._PRECISION_INPUT).
PRECISIONS: tuple[Any, ...] = (
    64,
    32,
    16,
    "64",
    "32",
    "16",
    "bf16",
    "64-true",
    "32-true",
    "16-true",
    "bf16-true",
    "16-mixed",
    "bf16-mixed",
    "transformer-engine",
    "transformer-engine-float16",
)
ABSENT = object()  # what `select` returns for a key the config does not have


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


def accelerators() -> list[str]:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return ["auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators())]


def network_names() -> tuple[str, ...]:
    from drone_seg.models.networks import NETWORKS

    return NETWORKS


def config_names(group: str) -> Callable[[], list[str]]:
    """The files of conf/<group> that `<group>=` can choose (not the shared `_common`)."""
    folder = Path(str(files("drone_seg.conf"))) / group
    return lambda: sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_"))


def bench_names(module: str, name: str) -> Callable[[], list[str]]:
    """`drone_seg.bench.<module>.<name>`'s names, imported only for a bench check (torch)."""
    return lambda: list(getattr(importlib.import_module(f"drone_seg.bench.{module}"), name))


def names(choices: Callable[[], Iterable[str]], example: str) -> Rule:
    """A non-empty list of names, each one of `choices`."""

    def accepts(value: Any) -> bool:
        if not isinstance(value, list) or not value:
            return False
        return all(isinstance(v, str) for v in value) and set(value) <= set(choices())

    return Rule(accepts, lambda: "a non-empty list of " + ", ".join(choices()), example)


def is_devices(value: Any) -> bool:
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


def select(cfg: DictConfig, key: str) -> Any:
    """The resolved value at `key` as plain Python (lists, dicts), or ABSENT if there is none."""
    try:
        value = OmegaConf.select(cfg, key, default=ABSENT, throw_on_missing=True)
    except OmegaConfBaseException as error:
        reason = str(error).splitlines()[0]
        raise ConfigError(f"{key} cannot be resolved: {reason}") from None
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value
