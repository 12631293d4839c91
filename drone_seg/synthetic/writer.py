"""Writing the dataset: JPEG images, PNG masks and the split by whole sequences, rendered in a
staging folder that replaces the destination only when complete."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from drone_seg.aeroscapes_layout import (
    AEROSCAPES_SPLIT,
    IMAGES_DIR,
    MASKS_DIR,
    TRAIN,
    VAL,
    write_official_lists,
)
from drone_seg.errors import ConfigError, DataError
from drone_seg.synthetic.render import render_sequence
from drone_seg.synthetic.scenes import SequencePlan, plan_sequences

JPEG_QUALITY = 92
VAL_FRACTION = 0.2


def validation_sequences(num_sequences: int, seed: int) -> set[int]:
    """Indices of the ~20% of sequences that form the validation split (whole sequences)."""
    if num_sequences < 2:
        return set()
    count = max(1, round(VAL_FRACTION * num_sequences))
    order = np.random.default_rng(seed).permutation(num_sequences)
    return {int(i) for i in order[:count]}


def write_frame(root: Path, image_id: str, image: np.ndarray, mask: np.ndarray) -> None:
    """Write one JPEG image and its single-channel PNG class mask."""
    jpeg = root / IMAGES_DIR / f"{image_id}.jpg"
    png = root / MASKS_DIR / f"{image_id}.png"
    if not cv2.imwrite(str(jpeg), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise DataError(f"could not write {jpeg}: check that its folder is writable and has room")
    if not cv2.imwrite(str(png), mask, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise DataError(f"could not write {png}: check that its folder is writable and has room")


def write_splits(root: Path, plans: Sequence[SequencePlan], seed: int) -> None:
    """ImageSets/trn.txt and val.txt, splitting by whole sequences."""
    val = validation_sequences(len(plans), seed)
    ids = [i for plan in plans for i in plan.image_ids]
    subset = np.array([VAL if p.index in val else TRAIN for p in plans for _ in p.image_ids])
    write_official_lists(
        ids, subset, root / AEROSCAPES_SPLIT["train"], root / AEROSCAPES_SPLIT["val"]
    )


def check_settings(**values: int) -> None:
    """Refuse a count, size or seed that is not a whole number in range, naming its key."""
    for key, value in values.items():
        least = 0 if key == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{key}={value!r}: expected a whole number of at least {least}")


def check_destination(out_dir: Path, overwrite: bool) -> None:
    """Refuse to touch an existing non-empty destination unless overwriting was asked for."""
    occupied = out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir()))
    if occupied and not overwrite:
        raise ConfigError(
            f"{out_dir} already exists and is not empty: pass overwrite=true to replace it, or "
            "choose another dir"
        )


def move_into_place(staging: Path, out_dir: Path) -> None:
    """Replace `out_dir` by the finished staging folder, keeping the swap window short."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    retired = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
    out_dir.rename(retired)
    staging.rename(out_dir)
    if retired.is_dir():
        shutil.rmtree(retired)
    else:
        retired.unlink()


def generate_dataset(
    out_dir: Path,
    num_images: int = 400,
    seed: int = 0,
    width: int = 480,
    height: int = 272,
    frames_per_sequence: int | None = None,
    overwrite: bool = False,
    class_mix: Mapping[str, float] | None = None,
) -> list[str]:
    """Write the dataset, return the image ids in order.

    By default its label statistics are AeroScapes' (flight lengths, and each class's share of
    images: see `cast`); `frames_per_sequence` fixes the flights' length instead, and `class_mix`
    replaces some classes' shares (a small test set needs rare classes in more than one flight).
    The files are rendered into a temporary sibling folder that is renamed into place at the end,
    so an interrupted run never leaves something that looks like a dataset.
    """
    fixed = {} if frames_per_sequence is None else {"frames_per_sequence": frames_per_sequence}
    check_settings(num_images=num_images, seed=seed, width=width, height=height, **fixed)
    out_dir = Path(os.path.abspath(out_dir))
    check_destination(out_dir, overwrite)
    plans = plan_sequences(num_images, seed, frames_per_sequence, class_mix)
    staging = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        for sub in (IMAGES_DIR, MASKS_DIR):
            (staging / sub).mkdir(parents=True)
        for plan in plans:
            frames = render_sequence(plan, width, height)
            for image_id, (image, mask) in zip(plan.image_ids, frames, strict=True):
                write_frame(staging, image_id, image, mask)
        write_splits(staging, plans, seed)
        move_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [i for plan in plans for i in plan.image_ids]
