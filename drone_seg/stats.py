"""Class statistics of a dataset and class weights for the loss.

    python -m drone_seg.stats data.root=DIR [data=folders data.images_dir=... ...]

Prints, per class, its pixel and image counts, then inverse-frequency and median-frequency weights
as `loss.class_weights=[...]` overrides (`drone_seg.data.class_weights`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from drone_seg.cli import command
from drone_seg.data.class_weights import stats_text
from drone_seg.data.source import DataSource


@command("stats")
def main(cfg: DictConfig) -> None:
    """Print the class statistics of the dataset of `cfg.data`."""
    source = DataSource.from_config(cfg.data)
    source.prepare()
    _, stats = source.scan()
    print(stats_text(stats.counts, int(stats.ignored.sum()), source.root))


if __name__ == "__main__":
    main()
