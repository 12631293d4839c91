"""Split a dataset as training would and write the split file and its report.

    python -m drone_seg.split data.root=DIR data.split=STRATEGY split_file=PATH

Composes the same `data` config group as training (conf/split.yaml), so `data=folders`,
`data.split_seed=`, `data.val_fraction=` ... mean the same here; the CSV `image,subset` is the one a
training run writes as `split.csv`, and the report goes beside it as `<stem>_report.md`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drone_seg.cli import command
from drone_seg.data.source import DataSource


@command("split")
def main(cfg: DictConfig) -> None:
    """Split the dataset of `cfg.data`, write `cfg.split_file` and its report, print the report."""
    source = DataSource.from_config(cfg.data)
    source.prepare()
    source.make_split()
    report_path = source.write_split(Path(cfg.split_file))
    print(source.split_report)
    print(f"Wrote {cfg.split_file} and {report_path}")


if __name__ == "__main__":
    main()
