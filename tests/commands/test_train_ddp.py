"""The distributed path on CPU (DDP over gloo, 2 processes): training, quietly, and exact
validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drone_seg.runs.run_dir import RunDir, read_metrics

from helpers.cli import ONE_THREAD, run_command, run_python
from helpers.config import TINY_TRAIN
from helpers.quiet import SHOW_WARNINGS, our_warnings
from helpers.shipped import data_options

# DDP is a trainer preset (trainer=ddp_cpu), not what a run gets by default: make test-all.
pytestmark = pytest.mark.slow

# 9 val images (val_fraction 0.225 of 40): uneven over 2 ranks.
NINE_VAL = "data.val_fraction=0.225"
SPLIT_REPORT = "## Split of "

# Validates a checkpoint on the val split with N processes and writes rank 0's metrics as JSON.
VALIDATE = """
import json, sys
import albumentations as A
import lightning as L
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.models.module import SegmentationModule
from drone_seg.runs.run_dir import read_metrics

if __name__ == "__main__":
    checkpoint, options, out, devices = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    module = SegmentationModule.load_from_checkpoint(checkpoint, map_location="cpu")
    resize = A.Compose([A.Resize(96, 160, interpolation=1, mask_interpolation=0)])
    datamodule = DroneDataModule(**{**json.loads(options), "val_transform": resize})
    trainer = L.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
    )
    metrics = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
    if trainer.is_global_zero:
        json.dump(metrics, open(out, "w"))
"""


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, synthetic_root) -> tuple[Path, str]:
    """Two batches of the demo with trainer=ddp_cpu through the real command line, every Python
    warning shown and rank 0's progress bar on (it reads the metrics there first): its run folder
    and everything it printed."""
    run_dir = tmp_path_factory.mktemp("ddp") / "run"
    result = run_command(
        "drone_seg.train", "trainer=ddp_cpu", f"data.root={synthetic_root}",
        f"hydra.run.dir={run_dir}", *TINY_TRAIN, "data.batch_size=2", NINE_VAL,
        "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=true", env={**ONE_THREAD, **SHOW_WARNINGS},
    )  # fmt: skip
    assert result.stdout.count("Run directory:") == 1, "only rank 0 reports"
    return run_dir, result.stdout + result.stderr


def test_ddp_cpu_writes_the_same_kind_of_run_directory(ddp_run, shared_run: RunDir) -> None:
    """The files of a single-process run (the session's shared run) and rank 1's log."""
    run_dir, _ = ddp_run
    single = {p.name for p in shared_run.path.iterdir()}
    assert {p.name for p in run_dir.iterdir()} == single | {"train_ddp_process_1.log"}
    for name in ("checkpoints/best.ckpt", "checkpoints/last.ckpt", "split.csv", "metrics.json"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert read_metrics(run_dir / "metrics.json").keys() == shared_run.read_metrics().keys()


def test_ddp_cpu_prints_the_split_report_once_and_no_warning_of_ours(ddp_run) -> None:
    _, output = ddp_run
    assert "Starting with 2 processes" in output
    assert our_warnings(output) == []
    assert output.count(SPLIT_REPORT) == 1
    assert output.count("Masks: ") == 1


def validate(tmp_path: Path, checkpoint: Path, root: Path, devices: int) -> dict[str, float]:
    script, out = tmp_path / "validate.py", tmp_path / f"metrics_{devices}.json"
    script.write_text(VALIDATE)
    options = data_options(root, val_fraction=0.225, val_batch_size=2, num_workers=0)
    run_python(
        str(script), str(checkpoint), json.dumps(options), str(out), str(devices), cwd=tmp_path
    )
    return json.loads(out.read_text())


def test_ddp_validation_counts_every_image_once(ddp_run, synthetic_root, tmp_path) -> None:
    checkpoint = ddp_run[0] / "checkpoints" / "best.ckpt"
    single = validate(tmp_path, checkpoint, synthetic_root, devices=1)
    distributed = validate(tmp_path, checkpoint, synthetic_root, devices=2)
    assert single.keys() == distributed.keys()
    assert {"val/dice", "val/loss", "val/dice_person"} <= single.keys()
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
