"""Running the project's commands as a user would: `python -m drone_seg.<command>` subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# One CPU thread per run: tiny runs gain nothing from more, and on a busy machine idle-spinning
# OpenMP threads make them several times slower.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
# Small images, crops and batches keep a training epoch to a second or two on a CPU.
TINY_TRAIN = (
    "augment.crop_size=[64,64]",
    "augment.val_size=[96,160]",
    "data.batch_size=4",
    "data.num_workers=0",
    "trainer.accelerator=cpu",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "callbacks.images.every_n_epochs=100",
)


def command(module: str, *overrides: str) -> list[str]:
    """The argv of `python -m <module> <overrides>`."""
    return [sys.executable, "-m", module, *overrides]


def run_command(
    module: str, *overrides: str, cwd: Path = REPO, expect_ok: bool = True
) -> subprocess.CompletedProcess:
    """Run a command to its end; with `expect_ok`, fail the test (with stderr) unless it exits 0."""
    result = subprocess.run(
        command(module, *overrides),
        cwd=cwd,
        env=ONE_THREAD,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if expect_ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The `error: ...` line a failed command printed last; fails the test on a traceback."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), result.stderr[-3000:]
    return lines[-1]
