"""Render the synthetic drone dataset in AeroScapes layout (JPEGImages/, SegmentationClass/,
ImageSets/trn.txt and val.txt).

    python -m drone_seg.synthesize [dir=DIR] [num_images=400] [seed=0] [width=480] [height=272]
        [frames_per_sequence=5] [overwrite=true]

The defaults (conf/synthesize.yaml) are the built-in set of `data=synthetic`, in the folder training
looks for it, so this renders the demo's data ahead of time; the renderer is `drone_seg.synthetic`.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from drone_seg.errors import DroneSegError
from drone_seg.synthetic import generate_dataset

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="synthesize")
def main(cfg: DictConfig) -> None:
    """Render `cfg.num_images` frames of `cfg.width` x `cfg.height` into `cfg.dir`."""
    try:
        ids = generate_dataset(
            Path(cfg.dir),
            num_images=cfg.num_images,
            seed=cfg.seed,
            width=cfg.width,
            height=cfg.height,
            frames_per_sequence=cfg.frames_per_sequence,
            overwrite=cfg.overwrite,
        )
    except DroneSegError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"Wrote {len(ids)} synthetic {cfg.width}x{cfg.height} images and masks to {cfg.dir}")


if __name__ == "__main__":
    main()
