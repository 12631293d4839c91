"""The package declares what it imports: every third-party module imported in drone_seg/ comes from
a distribution listed in pyproject.toml (dependencies or an extra), each with a lower bound."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from importlib.metadata import packages_distributions

import pytest
import tomllib

from helpers.cli import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, str]:
    """Declared distribution name (canonical) -> its requirement string."""
    extras = [req for group in PROJECT["optional-dependencies"].values() for req in group]
    return {
        canonical(re.split(r"[<>=!~\[ ;]", req)[0]): req
        for req in [*PROJECT["dependencies"], *extras]
    }


def imported_modules() -> set[str]:
    """Top-level names of every module imported anywhere in drone_seg/."""
    names: set[str] = set()
    for path in (REPO / "drone_seg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"drone_seg", "__future__"}


def test_every_third_party_import_is_declared_with_a_lower_bound() -> None:
    requirements = declared()
    owners = packages_distributions()
    missing = []
    for module in sorted(imported_modules()):
        distributions = {canonical(d) for d in owners.get(module, [module])}
        found = distributions & set(requirements)
        if not found:
            missing.append(f"{module} ({', '.join(sorted(distributions))})")
        for name in found:
            assert ">=" in requirements[name], f"{requirements[name]} has no lower bound"
    assert not missing, f"imported but not declared: {missing}"


def test_every_declared_dependency_is_used() -> None:
    # Distributions used without an import of their own: tensorboard is Lightning's logger backend
    # (conf/logger/tensorboard.yaml), matplotlib draws Lightning's learning-rate finder plot, rich
    # draws Lightning's RichModelSummary table (callbacks/model_summary.py extends it).
    indirect = {"tensorboard", "matplotlib", "rich"}
    owners = packages_distributions()
    used = {canonical(d) for module in imported_modules() for d in owners.get(module, [module])}
    runtime = {canonical(re.split(r"[<>=!~\[ ;]", req)[0]) for req in PROJECT["dependencies"]}
    assert runtime - used - indirect == set(), "declared but never imported"


def test_the_package_list_names_every_package_folder() -> None:
    """pyproject.toml lists the packages by hand (conf/ is mapped into drone_seg.conf): a new
    folder of drone_seg/ missing from the list would be left out of an installed copy."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "drone_seg").rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == folders | {"drone_seg.conf"}
    assert setuptools["package-dir"] == {"drone_seg.conf": "conf"}


@pytest.mark.slow  # a pip install of the package (make test-all)
def test_a_non_editable_install_runs_the_commands_from_any_folder(tmp_path) -> None:
    """The configs ship as package data: an installed copy composes them far from the checkout."""
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*install, "--target", str(target), str(REPO)], check=True, capture_output=True)
    assert (target / "drone_seg" / "conf" / "train.yaml").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    for command in ("train", "eval", "predict"):
        result = subprocess.run(
            [sys.executable, "-m", f"drone_seg.{command}", "--cfg", "job"],
            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"task_name: {command}" in result.stdout
    found = subprocess.run(
        [sys.executable, "-c", "import drone_seg.cli as c; print(c.CONFIG_DIR)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert found.stdout.strip() == str(target / "drone_seg" / "conf")
