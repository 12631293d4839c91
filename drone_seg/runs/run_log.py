"""A command's log file (`<run>/<command>.log`): written only once the command decides to run, and
holding what the console showed.

Hydra opens its log file before the command runs, so a command that refuses would leave a log in a
new folder, or append to an existing run's. `RunLog` (Hydra's file handler here, see
conf/hydra/default.yaml) keeps the records in memory until `start_run_logs()`, then writes them and
everything after; a refused command never creates the file. Lightning's own loggers, warnings and
the tables the commands print (`show`) reach the same file.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from typing import TextIO

# Lightning's package logger prints its records to the console with a handler of its own. Its two
# subpackages' loggers print with their own handlers and stop there when Lightning is imported
# before logging is set up, and pass their records on to the package's logger when it is imported
# after (as the commands do, to answer --help and config errors before importing it).
LIGHTNING = "lightning"
LIGHTNING_LOGGERS = (LIGHTNING, "lightning.pytorch", "lightning.fabric")
# Terminal colour codes (rich tables on a terminal): shown on the console, left out of the file.
ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


class RunLog(logging.FileHandler):
    """Hydra's log file, held back: records wait in memory until `start()` (the command has decided
    to run), then go to the file with everything after; unstarted, it never creates the file."""

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = None) -> None:
        super().__init__(filename, mode=mode, encoding=encoding, delay=True)
        self.waiting: list[str] | None = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.waiting is None:
            super().emit(record)
            return
        try:
            self.waiting.append(self.format(record))
        except Exception:
            self.handleError(record)

    def start(self) -> None:
        """Write the records kept so far to the file, and every later one as it comes."""
        if self.waiting is None:
            return
        waiting, self.waiting = self.waiting, None
        self.acquire()
        try:
            if self.stream is None:
                self.stream = self._open()
            for line in waiting:
                self.stream.write(line + self.terminator)
            self.flush()
        finally:
            self.release()

    @property
    def started(self) -> bool:
        return self.waiting is None


def run_logs() -> Iterator[RunLog]:
    """The `RunLog` handlers of this process (Hydra's file handler, when it is one)."""
    yield from (h for h in logging.getLogger().handlers if isinstance(h, RunLog))


def capture_console() -> None:
    """Send Lightning's log records and Python's warnings to the run logs too, each once (the
    console shows them as before, once): Lightning's records stop at its own loggers, whichever
    was imported first, Lightning or the logging set-up. Each job of a multirun calls it again,
    for its own log."""
    handlers = list(run_logs())
    # Lightning's console handler shows its records; the root logger's would show them again.
    logging.getLogger(LIGHTNING).propagate = False
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        ours = [h for h in logger.handlers if isinstance(h, RunLog)]
        for stale in [h for h in ours if h not in handlers or logger.propagate]:
            logger.removeHandler(stale)
        if logger.propagate:  # its records reach the package's logger, and its run logs
            continue
        for handler in handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)
    if getattr(warnings.showwarning, "keeps_run_log", False):
        return
    show_warning = warnings.showwarning

    def show_and_keep(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        show_warning(message, category, filename, lineno, file, line)
        text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
        keep(text, logging.WARNING, "py.warnings")

    show_and_keep.keeps_run_log = True  # type: ignore[attr-defined]
    warnings.showwarning = show_and_keep


def start_run_logs() -> None:
    """The command has decided to run: write its log file from here on."""
    for handler in run_logs():
        handler.start()


def keep(text: str, level: int = logging.INFO, name: str = "drone_seg") -> None:
    """Write `text` to the run logs only (what the console already showed another way)."""
    record = logging.makeLogRecord(
        {"name": name, "levelno": level, "levelname": logging.getLevelName(level), "msg": text}
    )
    for handler in run_logs():
        if record.levelno >= handler.level:
            handler.handle(record)


def show(text: str) -> None:
    """Print `text` for the user as it is, and keep it in the run log (without colour codes)."""
    print(text)
    keep(ANSI_CODES.sub("", text))
