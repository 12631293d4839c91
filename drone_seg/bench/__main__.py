"""Benchmark suites: `python -m drone_seg.bench suite=SUITE [...]` (conf/bench.yaml lists them).

Prints one Markdown table per suite and writes all rows, settings and the machine as JSON (`out`,
by default a new file under logs/bench/). The settings are conf/bench.yaml's keys; every other
override is one of the training config the rows are built from, e.g. `data=aeroscapes
data.root=DIR` to read real files (docs/benchmarks.md).
"""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from drone_seg.bench.config import train_overrides
from drone_seg.bench.suites import run_bench
from drone_seg.cli import command


@command("bench")
def main(cfg: DictConfig) -> None:
    """Run the chosen suites with this command line's train-config overrides."""
    run_bench(cfg, train_overrides(HydraConfig.get().overrides.task))


if __name__ == "__main__":
    main()
