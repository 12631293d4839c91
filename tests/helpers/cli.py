"""Running the project's commands as a user would: `python -m drone_seg.<command>` subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
# One CPU thread per run: tiny runs gain nothing from more, and on a busy machine idle-spinning
# OpenMP threads make them several times slower.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def command(module: str, *overrides: str) -> list[str]:
    """The argv of `python -m <module> <overrides>`."""
    return [sys.executable, "-m", module, *overrides]


def run_python(
    *arguments: str, cwd: Path = REPO, env: dict[str, str] | None = None, expect_ok: bool = True
) -> subprocess.CompletedProcess:
    """Run `python <arguments>` to its end (one thread, `env` if given); with `expect_ok`, fail
    the test (with stderr) unless it exits 0."""
    result = subprocess.run(
        [sys.executable, *arguments],
        cwd=cwd,
        env=ONE_THREAD if env is None else env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if expect_ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_command(
    module: str,
    *overrides: str,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    expect_ok: bool = True,
) -> subprocess.CompletedProcess:
    """Run `python -m <module> <overrides>` as `run_python` does."""
    return run_python("-m", module, *overrides, cwd=cwd, env=env, expect_ok=expect_ok)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The `error: ...` line a failed command printed last; fails the test on a traceback."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), result.stderr[-3000:]
    return lines[-1]


def kill_after_first_checkpoint(overrides: list[str], last: Path) -> int:
    """Start `python -m drone_seg.train <overrides>` in its own process group and SIGKILL the
    whole group (every DDP rank and loader worker) as soon as its first `last` checkpoint exists;
    return that checkpoint's epoch."""
    process = subprocess.Popen(
        command("drone_seg.train", *overrides),
        env=ONE_THREAD,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not last.exists():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return torch.load(last, weights_only=True)["epoch"]
