"""Class names in config lists, as ids: the rare-class crop and copy-paste name classes by name."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from drone_seg.classes import CLASS_NAMES
from drone_seg.errors import ConfigError


def class_ids(names: Iterable[str], key: str) -> np.ndarray:
    """The sorted ids of the class `names`; an unknown name or an empty list is a one-line
    ConfigError naming `key` and the valid names."""
    names = list(names)
    unknown = [name for name in names if name not in CLASS_NAMES]
    if unknown or not names:
        problem = f"{unknown[0]!r} is not a class" if unknown else "the list is empty"
        raise ConfigError(
            f"{key}=[{','.join(map(str, names))}]: {problem}; name classes among "
            f"{', '.join(CLASS_NAMES)} (e.g. {key}=[person,boat])"
        )
    return np.array(sorted({CLASS_NAMES.index(name) for name in names}), dtype=np.int64)
