"""The tests' command runner (tests/helpers/cli.py) behaves as a new interpreter would and never
leaves a hung run behind."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import time
from pathlib import Path

from helpers.cli import run_command, run_to_end

SLEEPER = """
import subprocess, sys, time
sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
child = subprocess.Popen(sleep, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(600)
"""


def test_a_command_already_imported_runs_without_runpys_warning_and_stays_imported() -> None:
    module = importlib.import_module("drone_seg.train")
    result = run_command("drone_seg.train", "--help")
    assert result.stdout.strip() and "RuntimeWarning" not in result.stderr
    assert sys.modules["drone_seg.train"] is module


def test_a_run_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    argv = [sys.executable, "-c", SLEEPER, str(pid_file)]
    assert run_to_end(argv, tmp_path, dict(os.environ), timeout=3) is None
    child = int(pid_file.read_text())
    try:
        deadline = time.monotonic() + 10  # SIGKILL is delivered, not awaited: it dies soon after
        while status_of(child) not in ("gone", "Z") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status_of(child) in ("gone", "Z")  # a grandchild left alive sleeps for 600 s
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_a_run_that_ends_gives_its_status_and_output(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('out'); sys.exit('bad')"]
    result = run_to_end(argv, tmp_path, dict(os.environ), timeout=60)
    assert result is not None
    assert (result.returncode, result.stdout, result.stderr) == (1, "out\n", "bad\n")


def status_of(pid: int) -> str:
    """The state letter of process `pid` (Z: a zombie, dead and waiting to be reaped), or "gone"."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except FileNotFoundError:
        return "gone"
