"""The arguments a `_target_` takes, read from its source without importing it (Lightning and
albumentations take seconds to import): a config key it does not take is refused at start-up, and
the values are left to the target's own checks when it is built."""

from __future__ import annotations

import ast
import functools
import importlib.util
from importlib.machinery import PathFinder
from pathlib import Path

Definition = ast.ClassDef | ast.FunctionDef
HYDRA_KEYS = frozenset({"_target_", "_convert_", "_recursive_", "_partial_", "_args_"})


def _module_file(module: str) -> Path | None:
    """The source file of `module`, found without running any package's `__init__`."""
    top, *parts = module.split(".")
    spec = importlib.util.find_spec(top)
    for part in parts:
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = PathFinder.find_spec(part, list(spec.submodule_search_locations))
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None


@functools.cache
def _parsed(module: str) -> ast.Module | None:
    path = _module_file(module)
    return ast.parse(path.read_text(encoding="utf-8")) if path is not None else None


def _definition(module: str, name: str, depth: int = 0) -> tuple[str, Definition] | None:
    """Where `module.name` is defined (following imports, star imports too), and its definition."""
    tree = _parsed(module)
    if tree is None or depth > 12:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name:
            return module, node
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                if alias.name == "*" and (found := _definition(source, name, depth + 1)):
                    return found
                if (alias.asname or alias.name) == name:
                    return _definition(source, alias.name, depth + 1)
    return None


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module a `from ... import` in `module` reads from."""
    if not node.level:
        return node.module or ""
    path = _module_file(module)
    package = (
        module if path is not None and path.name == "__init__.py" else module.rpartition(".")[0]
    )
    base = package.rsplit(".", node.level - 1)[0]
    return ".".join(p for p in (base, node.module or "") if p)


def _base(module: str, base: ast.expr) -> tuple[str, Definition] | None:
    """A base class expression (`Name` or `alias.Name`) of a class defined in `module`."""
    if isinstance(base, ast.Name):
        return _definition(module, base.id)
    if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
        tree = _parsed(module)
        for node in tree.body if tree is not None else []:
            for alias in node.names if isinstance(node, ast.Import) else []:
                if (alias.asname or alias.name) == base.value.id:
                    return _definition(alias.name, base.attr)
    return None


def _lineage(module: str, definition: ast.ClassDef) -> list[tuple[str, ast.ClassDef]]:
    """The class and its bases, depth first: an approximation of its method resolution order."""
    found: list[tuple[str, ast.ClassDef]] = [(module, definition)]
    for expression in definition.bases:
        base = _base(module, expression)
        if base is not None and isinstance(base[1], ast.ClassDef):
            found += [b for b in _lineage(*base) if b not in found]  # type: ignore[arg-type]
    return found


def parameters(target: str) -> frozenset[str] | None:
    """The keyword arguments `target` (a dotted class or function) accepts; None when it takes
    any (`**kwargs` to the end) or its source cannot be read."""
    module, _, name = target.rpartition(".")
    found = _definition(module, name)
    if found is None:
        return None
    if isinstance(found[1], ast.FunctionDef):
        inits = [found[1]]
    else:
        inits = [
            n for _, c in _lineage(*found) for n in c.body if getattr(n, "name", "") == "__init__"
        ]  # type: ignore[arg-type]
    names: set[str] = set()
    for init in inits:
        if isinstance(init, ast.FunctionDef):
            args = init.args
            names |= {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
            if args.kwarg is None:
                return frozenset(names - {"self"})
    return None
