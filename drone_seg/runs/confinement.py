"""What a run record read from a checkpoint may make a resumed run write, and where.

Resuming instantiates the record's trainer, callbacks and loggers again (allowlisted classes), but
their arguments are data a user received: a logger's `save_dir`, a checkpoint `dirpath`, a
`default_root_dir`, an MLflow `tracking_uri` or wandb with `offline: false` could write outside
the run or reach the network. Each such argument read from the record must stay inside the run
folder (and reach no network), unless this command line gives the key itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from drone_seg.errors import ConfigError

# The config nodes resume instantiates from the record.
INSTANTIATED = ("trainer", "callbacks", "logger")
# Arguments naming a folder, file or store that the object writes to.
LOCATION_KEYS = frozenset(
    {"default_root_dir", "dirpath", "path", "save_dir", "dir", "tracking_uri", "artifact_location"}
)
# Of those, the ones whose null means a library default outside the run (the working folder,
# ./mlruns, ./wandb); a null dirpath or path follows the trainer's folder, or writes nothing.
DEFAULTS_OUTSIDE = frozenset({"default_root_dir", "save_dir", "dir", "tracking_uri"})
# Arguments naming one file or folder inside a location: plain names only.
NAME_KEYS = frozenset({"filename", "name", "version", "sub_dir", "prefix"})
# URL schemes that name a local file, checked like paths; every other scheme is the network.
FILE_SCHEMES = ("file", "sqlite")
URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)$")
WANDB_LOCAL_MODES = ("offline", "disabled")


def check_confined(config: DictConfig, given: Iterable[str], run: Path, source: str) -> None:
    """Raise a one-line ConfigError naming `source` (the checkpoint) and the key if an argument
    of `config`'s trainer, callbacks or loggers, not among the command line's `given` keys,
    writes outside `run` or reaches the network."""
    given = tuple(given)
    run = run.resolve()
    for key, value, node in _arguments(config):
        if _given(key, given):
            continue
        problem = _problem(key.rpartition(".")[2], value, node, run)
        if problem:
            raise ConfigError(
                f"{source} sets {key}={value!r}, which {problem}: refusing to resume with it; "
                f"give {key}=... on the command line to choose it yourself"
            )


def check_data_confined(config: DictConfig, given: Iterable[str], source: str) -> None:
    """The data keys that write: a missing synthetic set (data.root null) is rendered only inside
    `paths.data_dir` (an existing one is only read), and a statistics cache folder other than
    the default is taken only from the command line."""
    given = tuple(given)
    data_dir = Path(config.paths.data_dir).resolve()
    rendered = OmegaConf.select(config, "data.root") is None  # data.root=DIR: only read
    synthetic = OmegaConf.select(config, "data.synthetic.dir") if rendered else None
    if (
        synthetic
        and not _given("data.synthetic.dir", given)
        and not Path(synthetic).is_dir()
        and not Path(synthetic).resolve().is_relative_to(data_dir)
    ):
        raise ConfigError(
            f"{source} sets data.synthetic.dir={synthetic!r}, outside the data folder "
            f"{data_dir} where synthetic sets are rendered: refusing to resume with it; give "
            "data.synthetic.dir=... (or data.root=...) on the command line"
        )
    cache = OmegaConf.select(config, "data.cache_dir")
    if cache and not _given("data.cache_dir", given):
        raise ConfigError(
            f"{source} sets data.cache_dir={cache!r}, a folder it would write to: refusing to "
            "resume with it; give data.cache_dir=... (or data.cache_dir=null) on the command line"
        )


def _given(key: str, given: tuple[str, ...]) -> bool:
    """True when the command line sets `key` itself or a node holding it."""
    return any(key == g or key.startswith(g + ".") for g in given)


def _arguments(config: DictConfig) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(dotted key, resolved value, the node holding it) of every leaf under INSTANTIATED."""
    for root in INSTANTIATED:
        node = OmegaConf.select(config, root)
        if node is not None:
            yield from _leaves(root, OmegaConf.to_container(node, resolve=True), {})


def _leaves(prefix: str, value: Any, parent: dict[str, Any]) -> Iterator[tuple[str, Any, dict]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(f"{prefix}.{key}", item, value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(f"{prefix}.{index}", item, parent)
    else:
        yield prefix, value, parent


def _problem(leaf: str, value: Any, node: dict[str, Any], run: Path) -> str | None:
    """Why this argument may not come from a record, or None when it is harmless."""
    target = str(node.get("_target_", ""))
    if leaf in LOCATION_KEYS:
        if value is None:
            outside = leaf in DEFAULTS_OUTSIDE
            return (
                "leaves the location to the library's default (outside the run)"
                if outside
                else None
            )
        return _location_problem(str(value), run)
    if leaf in NAME_KEYS and isinstance(value, str) and _leaves_folder(value):
        return "is not a plain name (it leads out of its folder)"
    if target.endswith("WandbLogger") and leaf == "offline" and value is not True:
        return "sends the run to wandb's servers (offline: false)"
    if target.endswith("WandbLogger") and leaf == "mode" and value not in WANDB_LOCAL_MODES:
        return "sends the run to wandb's servers"
    match = URL.match(value) if isinstance(value, str) else None
    if match and match["rest"].startswith("//") and match["scheme"].lower() not in FILE_SCHEMES:
        return "reaches the network"
    return None


def _location_problem(value: str, run: Path) -> str | None:
    match = URL.match(value)
    if match and len(match["scheme"]) > 1:  # not a Windows drive letter
        scheme, rest = match["scheme"].lower(), match["rest"]
        if scheme not in FILE_SCHEMES:
            return "reaches the network"
        # sqlite:///relative.db, sqlite:////absolute.db; file:///absolute (empty host)
        value = rest[3:] if scheme == "sqlite" else rest[2:] if rest.startswith("//") else rest
    if not Path(value).resolve().is_relative_to(run):
        return f"is outside the run folder {run}"
    return None


def _leaves_folder(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith("..") or Path(name).is_absolute()
