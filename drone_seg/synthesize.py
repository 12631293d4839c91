"""Render the synthetic drone dataset in AeroScapes layout (JPEGImages/, SegmentationClass/,
ImageSets/trn.txt and val.txt).

    python -m drone_seg.synthesize [dir=DIR] [num_images=400] [seed=0] [width=480] [height=272]
        [frames_per_sequence=null] [overwrite=true]

The defaults (conf/synthesize.yaml) are the built-in set of `data=synthetic`, in the folder training
looks for it, so this renders the demo's data ahead of time; the renderer is `drone_seg.synthetic`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drone_seg.cli import command
from drone_seg.synthetic import generate_dataset


@command("synthesize")
def main(cfg: DictConfig) -> None:
    """Render `cfg.num_images` frames of `cfg.width` x `cfg.height` into `cfg.dir`."""
    ids = generate_dataset(
        Path(cfg.dir),
        num_images=cfg.num_images,
        seed=cfg.seed,
        width=cfg.width,
        height=cfg.height,
        frames_per_sequence=cfg.frames_per_sequence,
        overwrite=cfg.overwrite,
    )
    print(f"Wrote {len(ids)} synthetic {cfg.width}x{cfg.height} images and masks to {cfg.dir}")


if __name__ == "__main__":
    main()
