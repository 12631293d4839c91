"""A pydantic validation error as one line naming the config key, its value and what it must be:
`data.batch_size=0 must be an integer >= 1`, `trainer.max_epoch=3 is not a setting of ...`."""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

TYPE_ERRORS = frozenset({"int_type", "int_from_float", "float_type", "bool_type"})


class Unresolved:
    """A config value whose interpolation failed: reported unless a value it reads is wrong."""

    def __init__(self, key: str, reason: str) -> None:
        self.text = f"{key} cannot be resolved: {reason}"

    def __str__(self) -> str:
        return self.text


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


def unknown_key(key: str, value: Any, owner: str, known: Iterable[str]) -> str:
    """`key` is not one of `owner`'s keys `known`: name it and the closest known key."""
    parent, _, name = key.rpartition(".")
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.5)
    hint = f"did you mean {parent + '.' if parent else ''}{close[0]}?" if close else "remove it"
    return f"{key}={shown(value)} is not a setting of {owner}: {hint}"


def _bounds(metadata: Sequence[Any]) -> str:
    limits = {name: getattr(m, name) for m in metadata for name in ("ge", "gt", "le", "lt")
              if getattr(m, name, None) is not None}  # fmt: skip
    low = next(((k, v) for k, v in limits.items() if k in ("ge", "gt")), None)
    high = next(((k, v) for k, v in limits.items() if k in ("le", "lt")), None)
    if low and high:
        left, right = "[" if low[0] == "ge" else "(", "]" if high[0] == "le" else ")"
        return f" in {left}{low[1]:g}, {high[1]:g}{right}"
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return "".join(f" {signs[pair[0]]} {pair[1]:g}" for pair in (low, high) if pair)


def _plural(item: str) -> str:
    for single, many in (("an integer", "integers"), ("a number", "numbers")):
        if item.startswith(single):
            return many + item[len(single) :]
    return f"values, each {item}"


def describe(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """What a value of `annotation` (with pydantic's constraint `metadata`) is, in words."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        infos = [a for a in args[1:] if isinstance(a, FieldInfo)]
        if any(info.description for info in infos):
            return next(str(info.description) for info in infos if info.description)
        return describe(args[0], [*metadata, *(m for info in infos for m in info.metadata)])
    if origin in (Union, types.UnionType):
        options = [describe(a) for a in args if a is not types.NoneType]
        return " or ".join(options) + (" or null" if types.NoneType in args else "")
    if origin is Literal:
        return "one of " + ", ".join(shown(a) for a in args)
    lengths = [
        getattr(m, n) for m in metadata for n in ("min_length", "max_length") if hasattr(m, n)
    ]
    if origin is list:
        count = f"{lengths[0]} " if len(set(lengths)) == 1 and len(lengths) == 2 else ""
        count = count or ("non-empty " if lengths and lengths[0] else "")
        return f"a {count}list of {_plural(describe(args[0]))}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a group of keys: " + ", ".join(_fields(annotation))
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    text = words.get(annotation, "a group of keys")
    return (
        ("a non-empty string" if lengths else text)
        if annotation is str
        else text + _bounds(metadata)
    )


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the key that names them in YAML (`_target_` for `target`)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (also through `| None`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model, get_args(annotation))), None)


def message(error: ValidationError, schema: type[BaseModel], values: Any, prefix: str) -> str:
    """The first error of validating `values` (at config key `prefix`) with `schema`."""
    first = error.errors(include_url=False)[0]
    kind, loc = first["type"], [str(part) for part in first["loc"]]
    model: type[BaseModel] | None = schema
    path: list[str] = []
    info: FieldInfo | None = None
    for part in loc:
        fields = _fields(model) if model is not None and info is None else {}
        if part not in fields:
            break
        path.append(part)
        info = fields[part]
        model = _model(info.annotation)
        info = None if model is not None else info
    key = ".".join([p for p in (prefix,) if p] + (loc if kind == "extra_forbidden" else path))
    value = values
    for part in loc if kind == "extra_forbidden" else path:
        value = value[part] if isinstance(value, dict) else value[int(part)]
    if isinstance(value, Unresolved):
        return str(value)
    if kind == "extra_forbidden":
        owner = ".".join([p for p in (prefix,) if p] + path) or "this command"
        return unknown_key(key, value, owner, _fields(model) if model else ())
    if kind == "missing":
        return f"{key} is missing: every key of its group needs a value (see its file under conf/)"
    if kind == "value_error":
        reason = str(first["ctx"]["error"])
        return f"{key}={shown(value)} {reason}" if info is not None else reason
    expected = describe(info.annotation, info.metadata) if info else describe(model)
    if info is not None and info.description:
        expected = info.description
    hint = ""
    if kind in TYPE_ERRORS and isinstance(value, str):
        try:
            float(value)
            hint = f"; {value} was quoted, which makes it text: write it without quotes"
        except ValueError:
            pass
    return f"{key}={shown(value)} must be {expected}{hint}"
