"""Every `python -m drone_seg...` command the README and docs/ show answers `--help`."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

from drone_seg.cli import CONFIG_DIR

from helpers.cli import REPO, run_command

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND = re.compile(r"python -m (drone_seg(?:\.\w+)*)")


def documented_commands() -> list[str]:
    """The modules named by `python -m drone_seg...` in the README and docs/, each once."""
    found = {name for path in DOCUMENTS for name in COMMAND.findall(path.read_text())}
    return sorted(found)


def test_the_readme_documents_every_entry_config() -> None:
    commands = documented_commands()
    entry_configs = {path.stem for path in Path(CONFIG_DIR).glob("*.yaml")}
    assert entry_configs <= {name.removeprefix("drone_seg.") for name in commands}


@pytest.mark.parametrize("module", documented_commands())
def test_documented_command_answers_help(module: str) -> None:
    """Its own description (the first line of the docstring of what `-m` runs), and a Hydra
    command its composed config."""
    result = run_command(module, "--help")
    assert "Traceback" not in result.stderr
    package = importlib.util.find_spec(module).submodule_search_locations
    runs = importlib.import_module(f"{module}.__main__" if package else module)
    summary = runs.__doc__.strip().splitlines()[0]
    assert " ".join(summary.split()) in " ".join(result.stdout.split())  # argparse rewraps it
    config = Path(CONFIG_DIR) / f"{module.removeprefix('drone_seg.')}.yaml"
    assert ("== Config ==" in result.stdout) == config.is_file()
