"""Class statistics of a dataset and class weights for the loss, or its label statistics beside
AeroScapes' own.

    python -m drone_seg.stats data.root=DIR [data=folders data.images_dir=... ...]
    python -m drone_seg.stats data=synthetic compare=aeroscapes

Prints, per class, its pixel and image counts, then inverse-frequency and median-frequency weights
as `loss.class_weights=[...]` overrides (`drone_seg.data.class_weights`). With
`compare=aeroscapes`, prints instead per class the share of images holding it, its mean area and
median box beside AeroScapes' (`drone_seg.aeroscapes_reference`), with the error figures the
synthetic renderer's defaults are held to, and the flights' lengths.
"""

from __future__ import annotations

from omegaconf import DictConfig

from drone_seg.cli import command
from drone_seg.data.aeroscapes_compare import comparison_text
from drone_seg.data.class_weights import stats_text
from drone_seg.data.label_profile import LabelProfile
from drone_seg.data.source import DataSource


@command("stats")
def main(cfg: DictConfig) -> None:
    """Print the class statistics of the dataset of `cfg.data`, or its comparison with
    AeroScapes when `cfg.compare` names it."""
    source = DataSource.from_config(cfg.data)
    source.prepare()
    samples, stats = source.scan()
    if cfg.compare is None:
        print(stats_text(stats.counts, int(stats.ignored.sum()), source.root))
    else:
        profile = LabelProfile.of_files(samples.ids, samples.mask_paths)
        print(comparison_text(profile, str(source.root)))


if __name__ == "__main__":
    main()
