"""Memory suite: peak memory of tiled prediction against the image size, each size in a fresh
process (`python -m drone_seg.bench suite=memory memory_sizes=[[H,W],...]`).

Per image size, the process's peak resident set (ru_maxrss) before and after predicting a random
image with a network of random weights (as `Predictor` runs it), and what the uint8 image and mask
take. With the class map assembled band by band, the growth above the model is the image and mask
plus a band of tile rows (tile height x image width), not the image area.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence

import numpy as np
import torch

from drone_seg.bench.config import build_module, row_name
from drone_seg.bench.fresh_process import in_fresh_process
from drone_seg.bench.results import Row
from drone_seg.inference.artifacts import LoadedModel
from drone_seg.inference.predictor import Predictor, Tiling


def peak_megabytes() -> float:
    """This process's peak resident set so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_memory(
    network: str,
    sizes: Sequence[tuple[int, int]],
    tile: int,
    overlap: int,
    batch_size: int,
    overrides: Sequence[str] = (),
) -> list[Row]:
    """One row per (height, width), each measured in a new process so that its peak is its own."""
    return [
        in_fresh_process(measure, network, height, width, tile, overlap, batch_size, [*overrides])
        for height, width in sizes
    ]


def measure(
    network: str,
    height: int,
    width: int,
    tile: int,
    overlap: int,
    batch_size: int,
    overrides: Sequence[str] = (),
) -> Row:
    """Predict one random height x width image tiled; peak RSS before and after, in MB."""
    torch.set_grad_enabled(False)
    module = build_module(network, overrides).eval()
    model = LoadedModel(module, torch.device("cpu"), None)
    predictor = Predictor(model, tiling=Tiling((tile, tile), overlap), batch_size=batch_size)
    warm_up = np.zeros((tile, tile, 3), np.uint8)
    list(predictor.predict([(0, warm_up)]))  # one tile first: the model's weights and buffers
    before = peak_megabytes()
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    start = time.perf_counter()
    [(_, _, mask)] = predictor.predict([(0, image)])
    seconds = time.perf_counter() - start
    after = peak_megabytes()
    return {
        "suite": "memory",
        "name": row_name(network, module),
        "image": f"{width}x{height}",
        "peak MB before": round(before),
        "peak MB after": round(after),
        "growth MB": round(after - before),
        "uint8 image + mask MB": round((image.nbytes + mask.nbytes) / 2**20),
        "s": round(seconds, 1),
    }
