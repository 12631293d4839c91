"""Running the project's commands as a user would: `python -m drone_seg.<command>`, in this test
process where that is the same thing (a fresh interpreter costs 7-10 s of imports), else as a
subprocess."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import signal
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from hydra.core.global_hydra import GlobalHydra

REPO = Path(__file__).resolve().parents[2]
# One CPU thread per run: tiny runs gain nothing from more, and on a busy machine idle-spinning
# OpenMP threads make them several times slower.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
# CPython before 3.12 can deadlock a forked child on the interpreter's thread-state lock
# (python/cpython#112275, fixed in 3.12): seen here as a DDP rank's DataLoader worker stuck in
# PyOS_AfterFork_Child while the rank's gloo threads ran. A DDP run gets HUNG_DDP_RUN_S (about ten
# times the 20-25 s the tests' DDP runs take here), then one more try.
FORK_DEADLOCK = sys.version_info < (3, 12)
HUNG_DDP_RUN_S = 240


def command(module: str, *overrides: str) -> list[str]:
    """The argv of `python -m <module> <overrides>`."""
    return [sys.executable, "-m", module, *overrides]


def run_python(
    *arguments: str, cwd: Path = REPO, env: dict[str, str] | None = None, expect_ok: bool = True
) -> subprocess.CompletedProcess:
    """Run `python <arguments>` to its end (one thread, `env` if given); with `expect_ok`, fail
    the test (with stderr) unless it exits 0. A DDP run that hangs on Python < 3.12 is killed and
    run once more (see `FORK_DEADLOCK`)."""
    argv, env = [sys.executable, *arguments], ONE_THREAD if env is None else env
    retry = FORK_DEADLOCK and any("ddp" in argument for argument in arguments)
    timeout = HUNG_DDP_RUN_S if retry else 600
    result = run_to_end(argv, cwd, env, timeout)
    if result is None and retry:
        message = f"killed after {timeout} s, hung (python/cpython#112275), run again: {argv}"
        warnings.warn(message, stacklevel=2)
        result = run_to_end(argv, cwd, env, timeout)
    assert result is not None, f"did not end in {timeout} s: {argv}"
    if expect_ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_to_end(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess | None:
    """`argv` run to its end, or None if it had not ended after `timeout` s (then its whole
    process group, DDP ranks and loader workers too, is killed)."""
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def run_command(
    module: str,
    *overrides: str,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    expect_ok: bool = True,
    subprocess_only: bool = False,
) -> subprocess.CompletedProcess:
    """Run `python -m <module> <overrides>` as `run_python` does: in this process (`in_process`)
    unless `subprocess_only`, or the run needs its own interpreter (see `needs_a_process`)."""
    if subprocess_only or needs_a_process(module, overrides, env):
        return run_python("-m", module, *overrides, cwd=cwd, env=env, expect_ok=expect_ok)
    result = in_process(module, overrides, cwd, ONE_THREAD if env is None else env)
    if expect_ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def needs_a_process(module: str, overrides: tuple[str, ...], env: dict[str, str] | None) -> bool:
    """A run this process cannot stand in for: another program, DDP (Lightning starts its ranks by
    re-running the command line), or settings Python reads only at start (PYTHONWARNINGS)."""
    return (
        not module.startswith("drone_seg.")
        or any("ddp" in override for override in overrides)
        or (env is not None and "PYTHONWARNINGS" in env)
    )


def in_process(
    module: str, arguments: tuple[str, ...], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    """`python -m <module> <arguments>` run in this process with `env` and `cwd`, its stdout and
    stderr captured, its exit status as the interpreter would give it; this process's state
    (environment, folder, threads, warning and logging set-up, Hydra) restored after it."""
    stdout, stderr = io.StringIO(), io.StringIO()
    status: int = 0
    # A new interpreter has not imported the module it runs (runpy warns when it has: a test
    # module that imports it, or an earlier command that did).
    imported = sys.modules.pop(module, None)
    with as_a_fresh_command([module, *arguments], cwd, env, stdout, stderr):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)  # what -m does
        except SystemExit as end:
            status = exit_status(end.code, stderr)
        except BaseException:  # the interpreter prints an uncaught exception and exits 1
            traceback.print_exc(file=stderr)
            status = 1
        finally:
            if imported is not None:
                sys.modules[module] = imported
    argv = [sys.executable, "-m", module, *arguments]
    return subprocess.CompletedProcess(argv, status, stdout.getvalue(), stderr.getvalue())


def exit_status(code: object, stderr: io.StringIO) -> int:
    """What `sys.exit(code)` ends a process with (a message is printed, status 1)."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=stderr)
    return 1


@contextlib.contextmanager
def as_a_fresh_command(
    argv: list[str], cwd: Path, env: dict[str, str], stdout: io.StringIO, stderr: io.StringIO
) -> Iterator[None]:
    """Give a command what a new interpreter would (its argv, environment, folder, OMP threads,
    stdout and stderr, warnings printed and each printed again), and take back what it set up (log
    handlers, threads, torch's determinism, Hydra's global state)."""
    saved_argv, saved_env = sys.argv, dict(os.environ)
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    handlers = {name: list(logger.handlers) for name, logger in _loggers()}
    streams = _console_streams(stdout, stderr)
    with (
        warnings.catch_warnings(),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        warnings.showwarning = warnings._showwarning_orig  # pytest records them otherwise
        warnings._showwarnmsg_impl = _print_warning
        warnings.simplefilter("default", append=True)  # a change of filters forgets shown ones
        os.environ.clear()
        os.environ.update(env)
        torch.set_num_threads(int(env.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
        sys.argv = argv
        try:
            yield
        finally:
            sys.argv = saved_argv
            os.environ.clear()
            os.environ.update(saved_env)
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)
            for handler, stream in streams.items():
                handler.setStream(stream)
            _close_new_handlers(handlers)
            GlobalHydra.instance().clear()


def _print_warning(message: warnings.WarningMessage) -> None:
    """Python's own way of showing a warning: formatted, on (the current) stderr."""
    (message.file or sys.stderr).write(warnings._formatwarnmsg(message))


def _console_streams(
    stdout: io.StringIO, stderr: io.StringIO
) -> dict[logging.StreamHandler, object]:
    """Point the console handlers made at import (Lightning's) at `stdout` and `stderr`; return
    each handler's stream before."""
    consoles = {id(sys.stdout): stdout, id(sys.__stdout__): stdout}
    consoles |= {id(sys.stderr): stderr, id(sys.__stderr__): stderr}
    before = {}
    for _, logger in _loggers():
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if type(handler) is logging.StreamHandler and id(stream) in consoles:
                before[handler] = handler.setStream(consoles[id(stream)])
    return before


def _loggers() -> Iterator[tuple[str, logging.Logger]]:
    yield "", logging.getLogger()
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            yield name, logger


def _close_new_handlers(before: dict[str, list[logging.Handler]]) -> None:
    """Remove and close the log handlers a command added (its run's log file among them)."""
    for name, logger in _loggers():
        for handler in [h for h in logger.handlers if h not in before.get(name, [])]:
            logger.removeHandler(handler)
            handler.close()


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
    return that checkpoint's epoch. A DDP run hung before it is started once more, as in
    `run_python`."""
    retry = FORK_DEADLOCK and any("ddp" in override for override in overrides)
    for _ in range(2 if retry else 1):
        process = subprocess.Popen(
            command("drone_seg.train", *overrides),
            env=ONE_THREAD,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + (HUNG_DDP_RUN_S if retry else 300)
        while not last.exists() and time.monotonic() < deadline:
            assert process.poll() is None, "training ended before its first checkpoint"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if last.exists():
            break
    assert last.exists(), f"no checkpoint {last} before the deadline"
    return torch.load(last, weights_only=True)["epoch"]
