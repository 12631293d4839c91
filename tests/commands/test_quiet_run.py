"""A first run is quiet: no warning that our code causes in a training (single process and
`trainer=ddp_cpu`) or an export, with every Python warning shown (PYTHONWARNINGS=default)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from helpers.cli import ONE_THREAD, REPO, TINY_TRAIN, command

# Python's warning format naming one of our files, and our loggers' WARNING records (Hydra's
# `[time][logger][LEVEL]` format; a command run with -m logs as __main__).
OUR_FILE = re.compile(r"drone_seg/[\w/]+\.py:\d+: \w*Warning")
OUR_LOGGER = re.compile(r"\]\[(?:drone_seg[\w.]*|__main__)\]\[WARNING\]")
# Lightning's own warnings about how our module uses it: a hook it ignores or double-books, and
# epoch-level values it cannot tell are already reduced over the ranks.
ABOUT_OUR_MODULE = ("on_after_batch_transfer", "sync_dist=True")
SPLIT_REPORT = "## Split of "
QUICK = (
    *TINY_TRAIN,
    "model.weights=null",
    "model.weights_backbone=null",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.log_every_n_steps=1",
)


def our_warnings(output: str) -> list[str]:
    """The lines of `output` that are warnings caused by drone_seg's code."""
    return [
        line
        for line in output.splitlines()
        if OUR_FILE.search(line)
        or OUR_LOGGER.search(line)
        or any(text in line for text in ABOUT_OUR_MODULE)
    ]


def run_shown(module: str, *overrides: str) -> str:
    """Run `python -m <module>` with every warning shown; its stdout and stderr, once it passed."""
    result = subprocess.run(
        command(module, *overrides),
        cwd=REPO,
        env={**ONE_THREAD, "PYTHONWARNINGS": "default"},
        capture_output=True,
        text=True,
        timeout=300,  # a few times what it takes: a DDP deadlock should not hold the suite long
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def training(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> tuple[Path, str]:
    """A one-epoch training on one process: its run folder and everything it printed."""
    run_dir = tmp_path_factory.mktemp("quiet") / "run"
    output = run_shown(
        "drone_seg.train", f"data.root={synthetic_root}", f"hydra.run.dir={run_dir}", *QUICK
    )
    return run_dir, output


def test_the_detector_recognises_the_warnings_we_used_to_cause() -> None:
    printed = "\n".join(
        [
            "/r/drone_seg/data/dataset.py:53: UserWarning: The given NumPy array is not writable",
            "/r/drone_seg/export.py:53: DeprecationWarning: You are using the legacy exporter",
            "/v/lightning/pytorch/trainer/connectors/data_connector.py:378: You have overridden "
            "`on_after_batch_transfer` in `LightningModule` but have passed in a ...",
            "/v/lightning/.../result.py:433: It is recommended to use `self.log('val/iou_sky', "
            "..., sync_dist=True)` when logging on epoch level in distributed setting",
            "[2026-12-03 08:53:08,847][__main__][WARNING] - tile.size set but tile.enabled=false",
            "[2026-12-03 08:53:08,847][drone_seg.data.io][WARNING] - skipped broken.jpg",
            "/v/lightning/pytorch/utilities/_pytree.py:21: `isinstance(treespec, LeafSpec)`",
            "[2026-12-03 08:53:08,847][drone_seg.data.checks][INFO] - Masks: 40 class ids",
        ]
    )
    assert len(our_warnings(printed)) == 6


def test_a_training_prints_no_warning_of_ours(training: tuple[Path, str]) -> None:
    run_dir, output = training
    assert our_warnings(output) == []
    assert output.count(SPLIT_REPORT) == 1
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert "Total FLOPs: 0 " not in output and "Total FLOPs: " in output


def test_an_export_prints_no_warning_of_ours(training: tuple[Path, str], tmp_path: Path) -> None:
    checkpoint = training[0] / "checkpoints" / "best.ckpt"
    output = run_shown(
        "drone_seg.export", f"ckpt_path={checkpoint}", "format=onnx", f"hydra.run.dir={tmp_path}"
    )
    assert our_warnings(output) == []
    assert "DeprecationWarning" not in output
    assert (tmp_path / "model.onnx").is_file()


def test_ddp_cpu_prints_the_split_report_once_and_no_warning_of_ours(
    tmp_path: Path, synthetic_root: Path
) -> None:
    output = run_shown(
        "drone_seg.train",
        "trainer=ddp_cpu",
        f"data.root={synthetic_root}",
        f"hydra.run.dir={tmp_path / 'run'}",
        *QUICK,
        "trainer.enable_progress_bar=true",  # rank 0's alone: it reads the metrics there first
        "data.val_fraction=0.225",  # 9 val images, uneven over the ranks
    )
    assert "Starting with 2 processes" in output
    assert our_warnings(output) == []
    assert output.count(SPLIT_REPORT) == 1
    assert output.count("Masks: ") == 1
