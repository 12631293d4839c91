"""A first run is quiet: no warning that our code causes in a training or an export, with every
Python warning shown (PYTHONWARNINGS=default). The training is the session's shared run, trained
so; the `trainer=ddp_cpu` run is test_train_ddp.py's."""

from __future__ import annotations

from pathlib import Path

from drone_seg.runs.run_dir import RunDir

from helpers.cli import ONE_THREAD, run_command
from helpers.quiet import SHOW_WARNINGS, our_warnings
from helpers.trained import printed

SPLIT_REPORT = "## Split of "


def test_the_detector_recognises_the_warnings_we_used_to_cause() -> None:
    lines = "\n".join(
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
    assert len(our_warnings(lines)) == 6


def test_a_training_prints_no_warning_of_ours(shared_run: RunDir) -> None:
    output = "".join(printed(shared_run))
    assert our_warnings(output) == []
    assert output.count(SPLIT_REPORT) == 1
    assert shared_run.best_checkpoint.is_file()
    assert "Total FLOPs: 0 " not in output and "Total FLOPs: " in output


def test_an_export_prints_no_warning_of_ours(shared_run: RunDir, tmp_path: Path) -> None:
    result = run_command(
        "drone_seg.export", f"ckpt_path={shared_run.best_checkpoint}", "format=onnx",
        f"hydra.run.dir={tmp_path}", env={**ONE_THREAD, **SHOW_WARNINGS},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert our_warnings(output) == []
    assert "DeprecationWarning" not in output
    assert (tmp_path / "model.onnx").is_file()
