# Quick start: `make demo` (train on synthetic data, CPU) and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all lint notebooks

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; the venv is created once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/python -m drone_seg.train

# One pytest worker per core; a file's tests stay on one worker to share its trained models.
# `make test` leaves the tests marked slow (more configurations of a guarantee that one fast test
# already proves in the default configuration) to `make test-all`, which CI runs.
test: setup
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow"

test-all: setup
	$(BIN)/python -m pytest -n auto --dist loadfile

# ruff, and the layer contract of pyproject.toml ([tool.importlinter]): imports run one way.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The notebooks executed on the newest run (a short demo run trained first if none), saved with
# their figures in docs/notebooks/ (.ipynb, .md and image files); notebooks/ stays output-free.
notebooks: setup
	$(BIN)/python -m drone_seg.render_notebooks
