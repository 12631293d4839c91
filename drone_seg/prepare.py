"""Download AeroScapes and unpack it where training looks for it.

    python -m drone_seg.prepare [dest=DIR] [url=URL] [sha256=HEX] [keep_archive=true]

The download, its checks and the safe unpacking are `drone_seg.data.download`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drone_seg.cli import command
from drone_seg.data.download import count_images, prepare


@command("prepare")
def main(cfg: DictConfig) -> None:
    """Command line: download and unpack AeroScapes into `cfg.dest`."""
    dest = Path(cfg.dest)
    done = prepare(dest, cfg.url, Path(cfg.archive), cfg.sha256, cfg.size, cfg.keep_archive)
    images = count_images(dest)
    state = "Unpacked" if done else "Already there:"
    print(f"{state} AeroScapes in {dest} ({images} images); train with data.root={dest}")


if __name__ == "__main__":
    main()
