# Quick start: `make demo` (train on synthetic data, CPU) and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint notebooks

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; the venv is created once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/python -m drone_seg.train

# One pytest worker per core; a file's tests stay on one worker to share its trained models.
test: setup
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Executed copies of the notebooks, with their figures, in docs/notebooks/ (after `make demo`).
notebooks: setup
	$(BIN)/python notebooks/render.py
