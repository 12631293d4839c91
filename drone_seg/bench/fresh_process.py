"""A new process per measurement, so that its peak memory is its own, without a new interpreter's
imports each time: a fork server imports the measuring module once and forks a child per call."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a child forked from a server that has imported `function`'s module
    and nothing else of this process (no memory an earlier measurement freed)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([function.__module__])
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()
