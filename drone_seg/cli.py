"""How every command starts: the configs, found once, and one decorator that wraps `hydra.main`.

`@command("train")` composes `conf/train.yaml`, checks it (`drone_seg.config_checks`) and turns a
user error (`DroneSegError`) into one line, `error: <message>`, and a non-zero exit.

A command changes nothing until it decides to run and calls `begin_run()`: only then are Hydra's
record (`<run>/.hydra/`: config, hydra settings, overrides) and the log file written (`RunStart`
holds them back). A command that refuses before that leaves an existing run folder as it was and
removes the folder Hydra created for it; one that fails later ends its log with the error.
"""

from __future__ import annotations

import copy
import functools
import logging
import shutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from drone_seg.config_checks import check_config
from drone_seg.errors import DroneSegError
from drone_seg.runs.run_log import capture_console, keep, start_run_logs

# The configs: the top-level conf/ folder, shipped as the package drone_seg.conf (pyproject.toml
# maps it), so an editable checkout and an installed copy find them from any folder.
CONFIG_DIR = str(files("drone_seg.conf"))

Result = TypeVar("Result")


@dataclass
class PendingRun:
    """A single run not yet begun: its folder, where in it Hydra would have written its record
    (`hydra.output_subdir`), and the topmost folder Hydra created for it (None if none)."""

    run_dir: Path
    subdir: str | None
    created: Path | None
    config: DictConfig | None = None
    hydra_config: DictConfig | None = None
    begun: bool = False


_pending: PendingRun | None = None


class RunStart(Callback):
    """Hydra callback (conf/hydra/default.yaml): before a single run, note whether its folder
    exists, and take over writing `.hydra/` (`hydra.output_subdir`) until the command begins."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        global _pending
        run_dir = Path(str(config.hydra.run.dir)).absolute()
        created = None
        for folder in (run_dir, *run_dir.parents):
            if folder.exists():
                break
            created = folder
        subdir = config.hydra.output_subdir
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.output_subdir = None
        _pending = PendingRun(run_dir, None if subdir is None else str(subdir), created)


def begin_run() -> None:
    """The command has decided to run: write Hydra's record and start the log file (once; a no-op
    outside a single command-line run)."""
    if _pending is None or _pending.begun:
        return
    _pending.begun = True
    start_run_logs()
    hydra_config = _pending.hydra_config
    if _pending.subdir is None or _pending.config is None or hydra_config is None:
        return
    folder = _pending.run_dir / _pending.subdir
    folder.mkdir(parents=True, exist_ok=True)
    with read_write(hydra_config.hydra), open_dict(hydra_config.hydra):
        hydra_config.hydra.output_subdir = _pending.subdir
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(_pending.config))
    (folder / "hydra.yaml").write_text(OmegaConf.to_yaml(hydra_config))
    (folder / "overrides.yaml").write_text(OmegaConf.to_yaml(hydra_config.hydra.overrides.task))


def _forget_pending() -> None:
    """A run has ended: the next command run in this process (a test, a notebook) starts afresh."""
    global _pending
    _pending = None


def _end(pending: PendingRun | None, message: str) -> None:
    """A command ends on an error: in its log if it had begun, else leave no folder it created."""
    if pending is None:
        return
    if pending.begun:
        keep(message, logging.ERROR)
    elif pending.created is not None and pending.created.is_dir():
        shutil.rmtree(pending.created)


def command_help(name: str, usage: str | None, overrides: list[str]) -> str:
    """`--help`: the command's usage, this project's config groups and the config composed with
    `overrides`; without Hydra's own help, which lists Hydra's groups too (seconds)."""
    from hydra import compose, initialize_config_dir

    folders = [f for f in sorted(Path(CONFIG_DIR).iterdir()) if f.is_dir() and f.name != "hydra"]
    options = {f.name: sorted(p.stem for p in f.glob("[!_]*.yaml")) for f in folders}
    groups = "\n".join(f"{group}: {', '.join(names)}" for group, names in options.items() if names)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = OmegaConf.to_yaml(compose(name, overrides=overrides))
    return (
        f"{(usage or '').strip()}\n\n== Configuration groups ==\nCompose your configuration "
        f"from those groups (group=option)\n\n{groups}\n\n== Config ==\nOverride anything in "
        f"the config (foo.bar=value)\n\n{config}"
    )


def command(
    name: str, on_failure: Callable[[Exception], Result] | None = None
) -> Callable[[Callable[[DictConfig], Result]], Callable[[], Result | None]]:
    """Make `run(cfg)` the command `name`: compose `conf/<name>.yaml`, check it, run, and end a user
    error in one line. `on_failure(error)`, when given, sees any exception first: it returns the
    command's result (train records failed sweep runs so) or re-raises."""

    def decorate(run: Callable[[DictConfig], Result]) -> Callable[[], Result | None]:
        def checked_run(cfg: DictConfig) -> Result:
            try:
                check_config(cfg, name)
                result = run(cfg)
            except Exception as error:
                if on_failure is None:
                    raise
                return on_failure(error)
            begin_run()
            return result

        @functools.wraps(run)
        def main(cfg: DictConfig) -> Result:
            pending = _pending
            capture_console()
            if pending is None:  # a multirun's job: Hydra has written its record already
                start_run_logs()
            else:
                pending.config = copy.deepcopy(cfg)
                pending.hydra_config = copy.deepcopy(HydraConfig.instance().cfg)
            try:
                return checked_run(cfg)
            except DroneSegError as error:
                _end(pending, f"error: {error}")
                raise SystemExit(f"error: {error}") from None
            except BaseException:
                _end(pending, traceback.format_exc().rstrip())
                raise
            finally:
                _forget_pending()

        hydra_main = hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=name)(main)

        @functools.wraps(run)
        def entry() -> Result | None:
            arguments = sys.argv[1:]
            if "--help" in arguments or "-h" in arguments:
                overrides = [a for a in arguments if not a.startswith("-")]
                print(command_help(name, sys.modules[run.__module__].__doc__, overrides))
                return None
            return hydra_main()

        return entry

    return decorate
