"""The suites of `python -m drone_seg.bench`, run with the settings of conf/bench.yaml: their rows
printed as Markdown tables and written, with the settings and the machine, as one JSON file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from drone_seg.bench.config import bench_keys
from drone_seg.bench.data import SyntheticSize, bench_data
from drone_seg.bench.infer import bench_infer
from drone_seg.bench.memory import bench_memory
from drone_seg.bench.overhead import bench_overhead
from drone_seg.bench.paths import PathSettings, bench_paths
from drone_seg.bench.results import Row, results_table, write_json
from drone_seg.bench.timing import machine
from drone_seg.bench.training import StepSettings, bench_train
from drone_seg.inference.artifacts import resolve_device
from drone_seg.inference.predictor import size_pair

SUITES: tuple[str, ...] = ("data", "train", "overhead", "infer", "memory", "paths")
# suite=all: the throughput suites; the memory suite takes minutes at its default image sizes, the
# paths suite as long to compile its torch.compile paths.
ALL: tuple[str, ...] = ("data", "train", "overhead", "infer")


def run_suite(suite: str, cfg: DictConfig, overrides: list[str], device: torch.device) -> list[Row]:
    """The rows of one suite; `overrides` are the train config's, shared by every suite."""
    timing = {"warmup": cfg.warmup, "repeats": cfg.repeats}
    if suite == "data":
        height, width = cfg.image_size
        synthetic = SyntheticSize(height, width, cfg.num_images)
        return bench_data(
            overrides, synthetic, list(cfg.augments), size_pair(cfg.crop_size), cfg.batch_size,
            cfg.data_batches, **timing,
        )  # fmt: skip
    if suite == "train":
        settings = StepSettings(
            cfg.batch_size, size_pair(cfg.train_size), str(cfg.precision), cfg.channels_last,
            cfg.compile, cfg.warmup, cfg.repeats, device, cfg.peak_tflops,
        )  # fmt: skip
        return bench_train(overrides, list(cfg.networks), settings)
    if suite == "overhead":
        return bench_overhead(
            overrides, cfg.overhead_network, cfg.batch_size, size_pair(cfg.overhead_size),
            cfg.overhead_steps, cfg.warmup, cfg.repeats, device,
        )  # fmt: skip
    if suite == "infer":
        return bench_infer(
            overrides, list(cfg.networks), list(cfg.runtimes), cfg.infer_batch_size,
            size_pair(cfg.infer_size), cfg.opset, device=device, **timing,
        )  # fmt: skip
    if suite == "paths":
        settings = PathSettings(
            cfg.paths_network, cfg.paths_batch_size, size_pair(cfg.paths_size), cfg.warmup,
            cfg.repeats, device, cfg.seed,
        )  # fmt: skip
        return bench_paths(overrides, list(cfg.paths_compared), settings)
    sizes = [size_pair(size) for size in cfg.memory_sizes]
    return bench_memory(
        cfg.memory_network, sizes, cfg.memory_tile, cfg.memory_overlap, cfg.memory_batch_size,
        overrides,
    )  # fmt: skip


def run_bench(cfg: DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Run `cfg.suite` (every suite of ALL for `all`), print each table, write the JSON file
    `cfg.out`; return its path. `overrides` are the train config's (`data.root=DIR`...)."""
    device = resolve_device(cfg.device)
    suites = list(ALL) if cfg.suite == "all" else [cfg.suite]
    rows: list[Row] = []
    for suite in suites:
        suite_rows = run_suite(suite, cfg, list(overrides), device)
        print(f"\n## {suite}\n\n{results_table(suite_rows)}", flush=True)
        rows += suite_rows
    path = Path(cfg.out)
    write_json(path, suites, settings(cfg, overrides), machine(device), rows)
    print(f"\nWrote {path}")
    return path


def settings(cfg: DictConfig, overrides: Sequence[str]) -> dict[str, Any]:
    """The bench's own settings (conf/bench.yaml's keys but the output file) and the overrides."""
    keys = [key for key in bench_keys() if key not in ("hydra", "task_name", "out")]
    return {**{key: _plain(cfg[key]) for key in keys}, "overrides": list(overrides)}


def _plain(value: Any) -> Any:
    """A config value as plain Python (lists), for JSON."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
