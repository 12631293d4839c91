"""Peak memory of tiled prediction against the image size: each size in a fresh process.

    python -m drone_seg.bench.memory [--sizes H W [H W ...]] [--tile 512] [--overlap 128]

Prints, per image size, the process's peak resident set (ru_maxrss) before and after predicting
a random image with the demo network (random weights, as `Predictor` runs it), and what the
uint8 image and mask take. With the class map assembled band by band, the growth above the model
is the image and mask plus a band of tile rows (tile height x image width), not the image area.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from drone_seg.bench.config import build_module
from drone_seg.bench.results import markdown_table
from drone_seg.inference.loading import LoadedModel
from drone_seg.inference.predictor import Predictor, Tiling

NETWORK = "lraspp_mobilenet_v3_large"  # the demo recipe's network


def peak_megabytes() -> float:
    """This process's peak resident set so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(height: int, width: int, tile: int, overlap: int, batch_size: int) -> dict:
    """Predict one random height x width image tiled; peak RSS before and after, in MB."""
    torch.set_grad_enabled(False)
    network = build_module(NETWORK).eval()
    model = LoadedModel(network, torch.device("cpu"), None)
    predictor = Predictor(model, tiling=Tiling((tile, tile), overlap), batch_size=batch_size)
    warm_up = np.zeros((tile, tile, 3), np.uint8)
    list(predictor.predict([(0, warm_up)]))  # one tile first: the model's weights and buffers
    before = peak_megabytes()
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    start = time.perf_counter()
    [(_, _, mask)] = predictor.predict([(0, image)])
    seconds = time.perf_counter() - start
    return {
        "image": f"{width}x{height}",
        "peak MB before": round(before),
        "peak MB after": round(peak_megabytes()),
        "growth MB": round(peak_megabytes() - before),
        "uint8 image + mask MB": round((image.nbytes + mask.nbytes) / 2**20),
        "s": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Run each size in its own process (so that each peak is its own) and print a table."""
    parser = argparse.ArgumentParser(prog="python -m drone_seg.bench.memory", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1500, 2000, 6000, 8000])
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if len(args.sizes) % 2:
        raise SystemExit("error: --sizes takes pairs of height width")
    pairs = list(zip(args.sizes[::2], args.sizes[1::2], strict=True))
    settings = ["--tile", str(args.tile), "--overlap", str(args.overlap)]
    settings += ["--batch-size", str(args.batch_size)]
    if args.child:
        [(height, width)] = pairs
        print(json.dumps(measure(height, width, args.tile, args.overlap, args.batch_size)))
        return
    rows = []
    for height, width in pairs:
        command = [sys.executable, "-m", "drone_seg.bench.memory", "--child"]
        command += ["--sizes", str(height), str(width), *settings]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print(f"\n{markdown_table(rows)}")


if __name__ == "__main__":
    main()
