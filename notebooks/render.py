"""Execute the notebooks, saving copies with their outputs in docs/notebooks/ (`make notebooks`).

The notebooks in notebooks/ stay output-free (the tests execute them on tiny data); the copies show
a reader on the web every figure, from the demo's data and its newest run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parent
OUT = NOTEBOOKS.parent / "docs" / "notebooks"


def render(name: str) -> Path:
    """Execute notebooks/<name> in the notebooks folder and write docs/notebooks/<name>."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    nbformat.write(notebook, path)
    return path


def main() -> None:
    for name in sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")):
        try:
            print(f"Rendered {render(name)}")
        except nbclient.exceptions.CellExecutionError as error:
            first = str(error).strip().splitlines()[-1]
            sys.exit(f"error: notebooks/{name} failed ({first}): run `make demo` first")


if __name__ == "__main__":
    main()
