"""The notebooks run top to bottom on the synthetic test data and a short real training run."""

from __future__ import annotations

import base64
import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbclient
import nbformat
import pytest

from drone_seg import render_notebooks
from drone_seg.data.io import read_image
from drone_seg.runs.run_dir import RunDir

from helpers.cli import REPO

NOTEBOOKS = REPO / "notebooks"
KERNEL = "drone-seg-test"
# Figures each notebook draws: 01 counts, examples, splits; 02 curves, Dice, confusion, gallery.
FIGURES = {"01_data.ipynb": 3, "02_results.ipynb": 4}


@pytest.fixture(scope="module")
def notebook_run(shared_run: RunDir) -> Path:
    """The session's shared run: the demo experiment trained through the real command line."""
    return shared_run.path


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


# 02_results runs in test_make_notebooks_renders_a_notebook_with_its_figures too.
FIGURE_PARAMS = [
    pytest.param(name, marks=[pytest.mark.slow] if name == "02_results.ipynb" else [])
    for name in FIGURES
]


@pytest.mark.parametrize("name", FIGURE_PARAMS)
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


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_saved_notebooks_have_no_outputs(path: Path) -> None:
    """The rendered copies live in docs/notebooks/ (`make notebooks`); the sources stay clean."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert cells
    assert [c.outputs for c in cells if c.outputs] == []
    assert [c.execution_count for c in cells if c.execution_count is not None] == []


def test_make_notebooks_renders_a_notebook_with_its_figures(
    notebook_run: Path, synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRONE_SEG_DATA", raising=False)  # both notebooks: the run's dataset
    monkeypatch.delenv("DRONE_SEG_RUN", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("DRONE_SEG_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "docs"
    render_notebooks.main(["02_results.ipynb", "--run", str(notebook_run), "--out", str(out)])
    saved = nbformat.read(NOTEBOOKS / "02_results.ipynb", as_version=4)
    rendered = nbformat.read(out / "02_results.ipynb", as_version=4)
    assert [c.source for c in rendered.cells] == [c.source for c in saved.cells]
    assert all(not c.get("outputs") for c in saved.cells)  # the source is left output-free
    outputs = [out for cell in rendered.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    kinds = [kind for out in outputs for kind in out.get("data", {}) if kind.startswith("image/")]
    assert len(kinds) >= FIGURES["02_results.ipynb"]
    assert set(kinds) <= {"image/png", "image/jpeg"}
    assert f"Run {notebook_run}: best epoch" in "".join(o.get("text", "") for o in outputs)
    # The Markdown page's figures are image files beside it, as many as the notebook's.
    page = (out / "02_results.md").read_text()
    figures = re.findall(r"!\[[^]]*\]\((02_results_files/[^)]+)\)", page)
    assert len(figures) == len(kinds)
    magic = {".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff"}
    assert all((out / f).read_bytes().startswith(magic[Path(f).suffix]) for f in figures)
    index = (out / "README.md").read_text()
    assert f"`{notebook_run}`" in index
    assert f"the data `{synthetic_root}`." in index
    assert "[page](02_results.md)" in index
    assert "01_data" not in index


def test_make_notebooks_refuses_a_folder_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"error: --run .*: no checkpoints/best.ckpt there"):
        render_notebooks.main(["--run", str(tmp_path), "--out", str(tmp_path / "docs")])
    with pytest.raises(SystemExit, match=r"error: no notebook 03_x.ipynb in notebooks/"):
        render_notebooks.main(["03_x.ipynb", "--run", str(tmp_path)])
    assert not (tmp_path / "docs").exists()


def figure_output(draw: Callable) -> nbformat.NotebookNode:
    """A display output holding the PNG of a figure drawn by `draw(ax)`, as the inline backend
    makes it (transparent background)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    draw(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", transparent=True)
    plt.close(fig)
    return nbformat.v4.new_output(
        "display_data", {"image/png": base64.b64encode(buffer.getvalue()).decode()}
    )


def test_published_pictures_become_jpeg_and_charts_stay_png(synthetic_root: Path) -> None:
    scene = read_image(sorted((synthetic_root / "JPEGImages").iterdir())[0])
    picture = figure_output(lambda ax: ax.imshow(scene, interpolation="bilinear"))  # photo-like
    outputs = [picture, figure_output(lambda ax: ax.bar(1, 2))]
    node = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=outputs)])
    render_notebooks.compact_figures(node)
    picture, chart = node.cells[0].outputs
    assert list(picture.data) == ["image/jpeg"]
    assert base64.b64decode(picture.data["image/jpeg"]).startswith(b"\xff\xd8\xff")
    assert list(chart.data) == ["image/png"]
