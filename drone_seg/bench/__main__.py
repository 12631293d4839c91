"""Command line of the benchmarks: `python -m drone_seg.bench SUITE [options] [config overrides]`.

Prints one Markdown table per suite and writes all rows, settings and the machine as JSON
(by default a new file under logs/bench/). Trailing `key=value` arguments are Hydra overrides of
`conf/train.yaml`, e.g. `data=aeroscapes data.root=DIR` to read real files.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch

from drone_seg.bench.data import AUGMENTS, bench_data
from drone_seg.bench.infer import RUNTIMES, bench_infer
from drone_seg.bench.overhead import bench_overhead
from drone_seg.bench.results import Row, markdown_table, write_json
from drone_seg.bench.timing import machine
from drone_seg.bench.training import NETWORKS, PRECISIONS, StepSettings, bench_train
from drone_seg.inference.loading import resolve_device

SUITES: tuple[str, ...] = ("data", "train", "overhead", "infer")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The suite, its settings (defaults: the figures in docs/benchmarks.md) and overrides."""
    parser = argparse.ArgumentParser(prog="python -m drone_seg.bench", description=__doc__)
    parser.add_argument("suite", choices=[*SUITES, "all"])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/train.yaml")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls; the median is kept")
    parser.add_argument("--out", type=Path, help="JSON file (default logs/bench/SUITE-TIME.json)")
    data = parser.add_argument_group("data suite")
    data.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=[720, 1280],
        metavar=("H", "W"),
        help="size of the synthetic images generated for it",
    )
    data.add_argument("--num-images", type=int, default=40, help="synthetic images to generate")
    data.add_argument("--augments", nargs="+", default=list(AUGMENTS), help="augment= configs")
    data.add_argument(
        "--crop-size",
        type=int,
        nargs=2,
        default=[512, 512],
        metavar=("H", "W"),
        help="augment.crop_size (experiment=baseline's)",
    )
    data.add_argument("--data-batches", type=int, default=4, help="batches per timed call")
    model = parser.add_argument_group("train, overhead and infer suites")
    model.add_argument("--networks", nargs="+", default=list(NETWORKS), help="model= configs")
    model.add_argument("--batch-size", type=int, default=8, help="also the data suite's")
    model.add_argument("--train-size", type=int, nargs=2, default=[512, 512], metavar=("H", "W"))
    model.add_argument("--precision", choices=list(PRECISIONS), default="32")
    model.add_argument("--channels-last", action="store_true")
    model.add_argument("--compile", action="store_true", help="torch.compile the network")
    model.add_argument("--peak-tflops", type=float, help="device peak, for MFU on unknown GPUs")
    model.add_argument("--overhead-network", default="lraspp_mobilenet_v3_large")
    model.add_argument("--overhead-size", type=int, nargs=2, default=[128, 128], metavar=("H", "W"))
    model.add_argument("--overhead-steps", type=int, default=40)
    model.add_argument("--infer-size", type=int, nargs=2, default=[720, 1280], metavar=("H", "W"))
    model.add_argument("--infer-batch-size", type=int, default=1)
    model.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES))
    model.add_argument("--opset", type=int, default=17)
    return parser.parse_intermixed_args(argv)


def run_suite(suite: str, args: argparse.Namespace, device: torch.device) -> list[Row]:
    """The rows of one suite."""
    timing = {"warmup": args.warmup, "repeats": args.repeats}
    if suite == "data":
        height, width = args.image_size
        synthetic = [
            f"data.synthetic.height={height}",
            f"data.synthetic.width={width}",
            f"data.synthetic.num_images={args.num_images}",
        ]
        return bench_data(
            [*synthetic, *args.overrides], args.augments, tuple(args.crop_size), args.batch_size,
            args.data_batches, **timing,
        )  # fmt: skip
    if suite == "train":
        settings = StepSettings(
            args.batch_size, tuple(args.train_size), args.precision, args.channels_last,
            args.compile, args.warmup, args.repeats, device, args.peak_tflops,
        )  # fmt: skip
        return bench_train(args.overrides, args.networks, settings)
    if suite == "overhead":
        return bench_overhead(
            args.overrides, args.overhead_network, args.batch_size, tuple(args.overhead_size),
            args.overhead_steps, args.warmup, args.repeats, device,
        )  # fmt: skip
    return bench_infer(
        args.overrides, args.networks, args.runtimes, args.infer_batch_size,
        tuple(args.infer_size), args.opset, device=device, **timing,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> Path:
    """Run the chosen suites, print their tables, write the JSON; return its path."""
    args = parse_args(argv)
    if args.out is not None and args.out.exists():
        raise SystemExit(f"error: --out {args.out} exists: name a new file, nothing is overwritten")
    logging.basicConfig(level=logging.WARNING)
    device = resolve_device(args.device)
    suites = list(SUITES) if args.suite == "all" else [args.suite]
    rows: list[Row] = []
    for suite in suites:
        suite_rows = run_suite(suite, args, device)
        print(f"\n## {suite}\n\n{markdown_table(suite_rows)}", flush=True)
        rows += suite_rows
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.out or Path("logs") / "bench" / f"{args.suite}-{stamp}.json"
    settings = {key: value for key, value in vars(args).items() if key != "out"}
    write_json(path, suites, settings, machine(device), rows)
    print(f"\nWrote {path}")
    return path


def console() -> None:
    """The `drone-seg-bench` script: `main()`, whose returned path a console script would print
    to stderr as an exit status."""
    main()


if __name__ == "__main__":
    main()
