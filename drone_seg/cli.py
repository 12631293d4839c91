"""How every command starts: the configs, found once, and one decorator that wraps `hydra.main`.

`@command("train")` composes `conf/train.yaml`, checks it (`drone_seg.config_checks`) and turns a
user error (`DroneSegError`) into one line, `error: <message>`, and a non-zero exit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.resources import files
from typing import TypeVar

import hydra
from omegaconf import DictConfig

from drone_seg.config_checks import check_config
from drone_seg.errors import DroneSegError

# The configs: the top-level conf/ folder, shipped as the package drone_seg.conf (pyproject.toml
# maps it), so an editable checkout and an installed copy find them from any folder.
CONFIG_DIR = str(files("drone_seg.conf"))

Result = TypeVar("Result")


def command(
    name: str, on_failure: Callable[[Exception], Result] | None = None
) -> Callable[[Callable[[DictConfig], Result]], Callable[[], Result]]:
    """Make `run(cfg)` the command `name`: compose `conf/<name>.yaml`, check it, run, and end a user
    error in one line. `on_failure(error)`, when given, sees any exception first: it returns the
    command's result (train records failed sweep runs so) or re-raises."""

    def decorate(run: Callable[[DictConfig], Result]) -> Callable[[], Result]:
        def checked_run(cfg: DictConfig) -> Result:
            try:
                check_config(cfg, name)
                return run(cfg)
            except Exception as error:
                if on_failure is None:
                    raise
                return on_failure(error)

        @functools.wraps(run)
        def main(cfg: DictConfig) -> Result:
            try:
                return checked_run(cfg)
            except DroneSegError as error:
                raise SystemExit(f"error: {error}") from None

        return hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=name)(main)

    return decorate
