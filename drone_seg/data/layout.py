"""Finding image/mask pairs on disk: an images folder and a masks folder matched by file stem.

AeroScapes is the case `JPEGImages/` + `SegmentationClass/`; the Kaggle course copy is
`imgs/imgs/` + `masks/masks/`. Files that are not images (`.DS_Store`, `Thumbs.db`, `*.txt`) are
skipped; suffixes match in any case (`.JPG`, `.jpeg`). An optional id list restricts the pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drone_seg.data.io import is_image_file
from drone_seg.errors import DataError


@dataclass(frozen=True)
class Samples:
    """The dataset's image ids, in order, and the image and mask file of each."""

    ids: list[str]
    image_paths: list[Path]
    mask_paths: list[Path]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: list[int]) -> Samples:
        """The samples at positions `keep`, in that order."""
        return Samples(
            [self.ids[i] for i in keep],
            [self.image_paths[i] for i in keep],
            [self.mask_paths[i] for i in keep],
        )


def find_samples(
    root: Path, images_dir: str, masks_dir: str, ids_file: str | None = None
) -> Samples:
    """Pair every image under `root/images_dir` with the mask of the same stem in `root/masks_dir`.

    Without `ids_file`, an image without a mask or a mask without an image is an error (a
    half-copied dataset must not train quietly on what is left); with it, only the listed ids count.
    """
    images_folder, masks_folder = root / images_dir, root / masks_dir
    images = files_by_stem(images_folder, "data.images_dir")
    masks = files_by_stem(masks_folder, "data.masks_dir")
    if ids_file is None:
        ids = sorted(images.keys() | masks.keys())
        source = None
    else:
        source = root / ids_file
        ids = read_ids(source)
    if not ids and source:
        raise DataError(f"no ids in {source}: check data.ids_file")
    if not ids:
        raise DataError(f"no images in {images_folder}: check data.root and data.images_dir")
    for image_id in ids:
        listed = f" (listed in {source})" if source else ""
        if image_id not in images:
            mask = masks.get(image_id)
            what = f"for mask {mask}" if mask else f"for id {image_id}{listed}"
            raise DataError(
                f"no image {what} in {images_folder}: add it, or remove the mask or the id"
            )
        if image_id not in masks:
            raise DataError(
                f"no mask for image {images[image_id]}{listed} in {masks_folder}: add it, or "
                "remove the image"
            )
    return Samples(ids, [images[i] for i in ids], [masks[i] for i in ids])


def files_by_stem(folder: Path, key: str) -> dict[str, Path]:
    """Map each image file's stem in `folder` to its path; two files with one stem are an error."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder: check data.root and {key}")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not (is_image_file(path) and path.is_file()):
            continue
        if path.stem in found:
            raise DataError(
                f"{found[path.stem]} and {path} share the id {path.stem}: keep one of them"
            )
        found[path.stem] = path
    return found


def read_ids(path: Path) -> list[str]:
    """Image ids from a text file, one per line (file names are cut to their stem); blank lines
    and `#` comments are skipped, an id listed twice is an error."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise DataError(f"cannot read the id list {path}: check data.ids_file") from error
    ids = [line.split("#", 1)[0].strip() for line in lines]
    ids = [Path(i).stem if is_image_file(Path(i)) else i for i in ids if i]
    if len(set(ids)) < len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"id {twice} is listed twice in {path}: list each image once")
    return ids
