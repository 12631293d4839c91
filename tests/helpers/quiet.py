"""Which lines of a command's output are warnings that drone_seg's code causes."""

from __future__ import annotations

import re

# Python's warning format naming one of our files, and our loggers' WARNING records (Hydra's
# `[time][logger][LEVEL]` format; a command run with -m logs as __main__).
OUR_FILE = re.compile(r"drone_seg/[\w/]+\.py:\d+: \w*Warning")
OUR_LOGGER = re.compile(r"\]\[(?:drone_seg[\w.]*|__main__)\]\[WARNING\]")
# Lightning's own warnings about how our module uses it: a hook it ignores or double-books, and
# epoch-level values it cannot tell are already reduced over the ranks.
ABOUT_OUR_MODULE = ("on_after_batch_transfer", "sync_dist=True")
# Every Python warning shown, in a command's environment.
SHOW_WARNINGS = {"PYTHONWARNINGS": "default"}


def our_warnings(output: str) -> list[str]:
    """The lines of `output` that are warnings caused by drone_seg's code."""
    return [
        line
        for line in output.splitlines()
        if OUR_FILE.search(line)
        or OUR_LOGGER.search(line)
        or any(text in line for text in ABOUT_OUR_MODULE)
    ]
