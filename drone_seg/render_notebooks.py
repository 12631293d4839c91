"""`make notebooks`: the notebooks executed on a trained run, readable copies in docs/notebooks/.

The notebooks in notebooks/ are saved without outputs (the tests execute them on tiny data and
check that they stay clean), so a reader on the web would see no figure. This writes, per notebook,
the executed copy (`<name>.ipynb`, figures embedded) and, with nbconvert (`pip install -e
".[docs]"`), a Markdown rendering (`<name>.md`, figures in `<name>_files/`), plus an index
(`README.md`) naming the run they show. The run is `--run` ($DRONE_SEG_RUN), else the newest one
under `logs/train/runs` (what `make demo` writes), else a short demo run trained first; the data is
$DRONE_SEG_DATA, else the dataset the run trained on. Paths inside the repository are shown
relative to it, so the published outputs name no machine's folders.
"""

from __future__ import annotations

import argparse
import base64
import io
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbclient
import nbformat
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from omegaconf import OmegaConf
from PIL import Image

from drone_seg.data.source import dataset_folder
from drone_seg.errors import ConfigError, DroneSegError
from drone_seg.notebooks import REPO, latest_run
from drone_seg.runs.checkpoint import read_record
from drone_seg.runs.run_dir import RunDir

NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "docs" / "notebooks"
KERNEL = "drone-seg"
# Trained when no run exists: the demo experiment, shortened (`make demo` trains its 15 epochs).
SHORT_RUN = ("trainer.max_epochs=3",)
# tqdm's "IProgress not found" (albumentations imports huggingface_hub, which imports tqdm.auto):
# a note about Jupyter widgets in the middle of the published outputs, not about the notebook.
QUIET = "ignore:IProgress not found"
# A PNG figure becomes a JPEG of this quality when that takes under half its bytes (pictures of
# images; charts stay PNG): the example and gallery grids shrink 4 to 5 times.
JPEG_QUALITY = 85


def execute(notebook: Path, env: Mapping[str, str], timeout: int = 900) -> nbformat.NotebookNode:
    """Run every cell of `notebook` in its folder, in a kernel of this interpreter (whatever kernels
    Jupyter has installed) with `env` added to the environment; the notebook with its outputs."""
    node = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory() as kernels:
        write_kernel_spec(Path(kernels) / KERNEL)
        specs = KernelSpecManager(kernel_dirs=[kernels])
        # IPC sockets in the temporary folder: no TCP port opened, no warning about one.
        ip = str(Path(kernels) / "ipc")
        manager = KernelManager(
            kernel_name=KERNEL, kernel_spec_manager=specs, transport="ipc", ip=ip
        )
        client = nbclient.NotebookClient(
            node,
            km=manager,
            timeout=timeout,
            record_timing=False,  # no timestamps: re-rendering the same run gives the same files
            resources={"metadata": {"path": str(notebook.parent)}},
        )
        try:
            warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET]))
            client.execute(env={**os.environ, "PYTHONWARNINGS": warnings, **env}, cleanup_kc=True)
        finally:
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
    return node


def compact_figures(node: nbformat.NotebookNode, quality: int = JPEG_QUALITY) -> None:
    """Re-encode as JPEG, in place, each PNG output that JPEG stores in under half the bytes."""
    for cell in node.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" not in data:
                continue
            png = base64.b64decode(data["image/png"])
            jpeg = io.BytesIO()
            # Inline figures are white under their transparency: dropping alpha keeps them white.
            Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, "JPEG", quality=quality)
            if jpeg.tell() < len(png) / 2:
                del data["image/png"]
                data["image/jpeg"] = base64.b64encode(jpeg.getvalue()).decode("ascii")
                if "image/png" in output.get("metadata", {}):
                    output.metadata["image/jpeg"] = output.metadata.pop("image/png")


def write_markdown(node: nbformat.NotebookNode, out: Path, stem: str) -> list[Path]:
    """`<stem>.md` and its figures in `<stem>_files/` under `out`; nothing without nbconvert."""
    try:
        from nbconvert import MarkdownExporter
    except ImportError:
        return []
    figures = out / f"{stem}_files"
    body, resources = MarkdownExporter().from_notebook_node(
        node, resources={"output_files_dir": figures.name, "unique_key": stem}
    )
    shutil.rmtree(figures, ignore_errors=True)  # figures of an earlier rendering
    written = [out / f"{stem}.md"]
    written[0].write_text(body)
    for name, data in resources["outputs"].items():
        written.append(out / name)
        written[-1].parent.mkdir(exist_ok=True)
        written[-1].write_bytes(data)
    return written


def render(notebook: Path, out: Path, env: Mapping[str, str]) -> list[Path]:
    """Execute `notebook` and write its executed copy (and Markdown rendering) to `out`."""
    node = execute(notebook, env)
    compact_figures(node)
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(node, out / notebook.name)
    return [out / notebook.name, *write_markdown(node, out, notebook.stem)]


def choose_run(run: Path | None) -> Path:
    """`run` if it is a training run, else the newest run, else a short demo run trained now."""
    if run is not None:
        if not RunDir(run).best_checkpoint.is_file():
            raise ConfigError(
                f"--run {run}: no checkpoints/best.ckpt there; pass a training run folder "
                "(logs/train/runs/<time>) or leave --run out to use the newest"
            )
        return run
    if (found := latest_run()) is not None:
        return found
    print(f"No run under logs/train/runs: training a short demo run ({' '.join(SHORT_RUN)})")
    command = [sys.executable, "-m", "drone_seg.train", *SHORT_RUN]
    if subprocess.run(command, cwd=REPO, check=False).returncode != 0:
        raise SystemExit("error: the short demo run failed (see above); or run `make demo` first")
    found = latest_run()
    assert found is not None, "the short demo run wrote no best checkpoint"
    return found


def shown(path: Path, start: Path) -> str:
    """`path` relative to `start` when both are in the repository (no machine's paths in the
    published outputs), else absolute."""
    path = path.resolve()
    return os.path.relpath(path, start) if path.is_relative_to(REPO) else str(path)


def trained_on(run: Path) -> Path | None:
    """The dataset the run trained on (its best checkpoint's record), if it is still there."""
    _, record = read_record(RunDir(run).best_checkpoint, key="--run")
    root = dataset_folder(record.data)
    return Path(root) if root and Path(root).is_dir() else None


def write_index(out: Path, notebooks: Sequence[Path], run: Path, data: Path | None) -> Path:
    """`out/README.md`: each rendered notebook's title and links, and the run and data they show."""
    metrics = RunDir(run).read_metrics()
    overrides = RunDir(run).overrides
    command = " ".join(["python -m drone_seg.train", *OmegaConf.load(overrides)])
    lines = [
        "# Rendered notebooks",
        "",
        "The notebooks of `notebooks/` (saved there without outputs), executed by `make notebooks`",
        f"on the run `{shown(run, REPO)}`, trained by",
        "",
        f"    {command}",
        "",
        f"(best epoch {metrics.get('epoch', '?')}, val/dice "
        f"{metrics.get('val/dice', math.nan):.3f}), and the data "
        + (f"`{shown(data, REPO)}`." if data else "their first cells name."),
        "",
    ]
    for notebook in notebooks:
        cells = nbformat.read(notebook, as_version=4).cells
        title = next((c.source.splitlines()[0] for c in cells if c.cell_type == "markdown"), "")
        links = [f"[notebook]({notebook.name})"]
        if (out / f"{notebook.stem}.md").is_file():
            links.insert(0, f"[page]({notebook.stem}.md)")
        lines.append(f"- `{notebook.name}`: {title.lstrip('# ')} ({', '.join(links)})")
    index = out / "README.md"
    index.write_text("\n".join(lines) + "\n")
    return index


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks of notebooks/ (default: all)")
    parser.add_argument(
        "--run",
        type=Path,
        default=os.environ.get("DRONE_SEG_RUN"),
        help="training run folder (default: $DRONE_SEG_RUN, else the newest run)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (docs/notebooks)")
    args = parser.parse_args(argv)
    notebooks = [NOTEBOOKS / name for name in args.names] or sorted(NOTEBOOKS.glob("*.ipynb"))
    try:
        if missing := [n.name for n in notebooks if not n.is_file()]:
            names = ", ".join(missing)
            raise ConfigError(f"no notebook {names} in notebooks/: name one of its files")
        run = choose_run(args.run)
        given = os.environ.get("DRONE_SEG_DATA")
        data = Path(given) if given else trained_on(run)
    except DroneSegError as error:
        raise SystemExit(f"error: {error}") from None
    env = {"DRONE_SEG_RUN": shown(run, NOTEBOOKS)}
    if data is not None and not given:
        env["DRONE_SEG_DATA"] = shown(data, NOTEBOOKS)  # both notebooks on the run's dataset
    for notebook in notebooks:
        print(f"Rendering {shown(notebook, REPO)} on {shown(run, REPO)}")
        try:
            written = render(notebook, args.out, env)
        except nbclient.exceptions.CellExecutionError as error:
            last = str(error).strip().splitlines()[-1]
            raise SystemExit(f"error: {shown(notebook, REPO)} failed: {last}") from None
        print("\n".join(f"  wrote {shown(path, REPO)}" for path in written))
    print(f"  wrote {shown(write_index(args.out, notebooks, run, data), REPO)}")


if __name__ == "__main__":
    main()
