"""The distributed path on CPU (DDP over gloo, 2 processes): training, and exact validation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drone_seg.runs.run_dir import read_metrics

from helpers.shipped import data_options

REPO = Path(__file__).resolve().parents[2]
SMALL = [
    "augment.crop_size=[64,64]", "augment.val_size=[96,160]", "data.batch_size=2",
    "data.num_workers=0", "data.val_fraction=0.225",  # 9 val images: uneven over 2 ranks
]  # fmt: skip

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
def ddp_run(tmp_path_factory, synthetic_root) -> Path:
    """One epoch of the demo with trainer=ddp_cpu through the real command line."""
    run_dir = tmp_path_factory.mktemp("ddp") / "run"
    command = [
        sys.executable, "-m", "drone_seg.train", "trainer=ddp_cpu", f"data.root={synthetic_root}",
        f"hydra.run.dir={run_dir}", "trainer.max_epochs=1", *SMALL,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Run directory:") == 1, "only rank 0 reports"
    return run_dir


def test_ddp_cpu_writes_the_same_kind_of_run_directory(ddp_run: Path) -> None:
    for name in ("checkpoints/best.ckpt", "checkpoints/last.ckpt", "split.csv", "metrics.json"):
        assert (ddp_run / name).is_file(), name
    assert list((ddp_run / "tensorboard").glob("events.out.tfevents.*"))
    assert 0.0 <= read_metrics(ddp_run / "metrics.json")["val/dice"] <= 1.0


def validate(tmp_path: Path, checkpoint: Path, root: Path, devices: int) -> dict[str, float]:
    script, out = tmp_path / "validate.py", tmp_path / f"metrics_{devices}.json"
    script.write_text(VALIDATE)
    options = data_options(root, val_fraction=0.225, val_batch_size=2, num_workers=0)
    command = [
        sys.executable,
        str(script),
        str(checkpoint),
        json.dumps(options),
        str(out),
        str(devices),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_ddp_validation_counts_every_image_once(ddp_run, synthetic_root, tmp_path) -> None:
    checkpoint = ddp_run / "checkpoints" / "best.ckpt"
    single = validate(tmp_path, checkpoint, synthetic_root, devices=1)
    distributed = validate(tmp_path, checkpoint, synthetic_root, devices=2)
    assert single.keys() == distributed.keys()
    assert {"val/dice", "val/loss", "val/dice_person"} <= single.keys()
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
