# Quick start: `make demo` (train on synthetic data, CPU) and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BASE_STAMP := $(VENV)/.installed-base
# --no-compile: pip would byte-compile every file of torch's CUDA build (about half the install
# time); Python compiles the modules a command imports, once, on first use.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --no-compile

.PHONY: setup setup-base demo test test-all lint notebooks mutation

# The package with its dev extra (tests, lint, mutation testing, every optional integration).
setup: $(STAMP)

# The package alone: all that `make demo` runs.
setup-base: $(BASE_STAMP)

# What the tests' interpreters import, byte-compiled once at setup (19 s): where
# PYTHONDONTWRITEBYTECODE is set, as on this project's machines, each new interpreter would
# otherwise compile torch and Lightning from source again (importing them: 15 s, not 6 s).
TEST_IMPORTS := torch, torchvision, lightning, torchmetrics, albumentations, cv2, hydra, omegaconf, \
	tensorboard, torch.utils.tensorboard, scipy.stats, segmentation_models_pytorch, timm, \
	pydantic, matplotlib.pyplot, onnx, onnxruntime

# Each re-installs only when pyproject.toml changes; the venv is created once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e ".[dev]"
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -c "import $(TEST_IMPORTS)"
	touch $(STAMP) $(BASE_STAMP)

$(BASE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e .
	touch $(BASE_STAMP)

demo: setup-base
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

# Mutation testing of the numeric and data core with mutmut ([tool.mutmut] in pyproject.toml), in
# one worker and one thread: each mutant runs only the unit tests that reach its function.
# predictor.py is mutated in its tiling (Tiling, size_pair, tile_starts, blend_window) only.
# Writes mutants/run.log and mutants/score.txt (killed or timed out / mutants run); the measured
# figures and every survivor are in docs/testing.md.
MUTANTS := 'drone_seg.models.*' 'drone_seg.data.*' 'drone_seg.inference.rle.*' \
	'drone_seg.inference.predictor.x_size_pair*' 'drone_seg.inference.predictor.x_tile_starts*' \
	'drone_seg.inference.predictor.x_blend_window*' 'drone_seg.inference.predictor.xǁTilingǁ*'

mutation: setup
	rm -rf mutants && mkdir mutants
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/mutmut run --max-children 1 $(MUTANTS) \
		> mutants/run.log || (tail -c 3000 mutants/run.log; exit 1)
	$(BIN)/mutmut results --all true | awk -F': ' '$$2 != "not checked" { n++; count[$$2]++ } \
		END { k = count["killed"] + count["timeout"]; \
		printf "%d/%d mutants killed (%.1f%%)", k, n, 100 * k / n; \
		for (s in count) if (s != "killed") printf ", %s %d", s, count[s]; print "" }' \
		| tee mutants/score.txt
