"""The notebooks run top to bottom on the synthetic test data and a short real training run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
KERNEL = "drone-seg-test"
# Figures each notebook draws: 01 counts, examples, splits; 02 curves, Dice, confusion, gallery.
FIGURES = {"01_data.ipynb": 3, "02_results.ipynb": 4}


@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    """Two short epochs of the demo experiment through the real command line."""
    run_dir = tmp_path_factory.mktemp("notebook") / "run"
    command = [
        sys.executable, "-m", "drone_seg.train", f"data.root={synthetic_root}",
        f"hydra.run.dir={run_dir}", "trainer.max_epochs=2", "trainer.log_every_n_steps=1",
        "augment.crop_size=[64,64]", "augment.val_size=[96,160]", "data.batch_size=4",
        "data.num_workers=0",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec running this interpreter (the venv's), found first through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "drone_seg test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("DRONE_SEG_CACHE_DIR", str(tmp_path / "cache"))
    return KERNEL


@pytest.mark.parametrize("name", FIGURES)
def test_notebook_runs_and_draws_its_figures(
    name: str, kernel_env: str, synthetic_root: Path, notebook_run: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DRONE_SEG_DATA", str(synthetic_root))
    monkeypatch.setenv("DRONE_SEG_RUN", str(notebook_run))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=kernel_env,
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    figures = sum("image/png" in out.get("data", {}) for out in outputs)
    assert figures >= FIGURES[name]
