"""Download AeroScapes and unpack it where training looks for it (`python -m drone_seg.prepare`).

The archive is the one the dataset's README (github.com/ishann/aeroscapes, download.sh) points to.
It is downloaded to `<archive>.part`, resumed with an HTTP Range request when a previous attempt
was cut, verified (size, and sha256 when given), and unpacked into a temporary folder beside `dest`
that is renamed to `dest` only once its layout checks out: a half-finished download or extraction
never looks like a dataset. An existing dataset at `dest` is never overwritten, and an archive that
was there already (one the user supplied) is never deleted. Every tar member is checked before
anything is written (no absolute paths, `..`, links leading out, devices), on every Python, and
tarfile's `data` filter is applied too where Python has it (3.10.12, 3.11.4 and later).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

from drone_seg.aeroscapes_layout import IMAGES_DIR, MASKS_DIR
from drone_seg.data.io import is_image_file
from drone_seg.errors import DataError

CHUNK = 1 << 20


def is_dataset(folder: Path) -> bool:
    """True if `folder` holds AeroScapes' image and mask folders, both with files in them."""
    return all(
        (folder / name).is_dir() and any((folder / name).iterdir())
        for name in (IMAGES_DIR, MASKS_DIR)
    )


class Progress:
    """A one-line download progress report on stderr, redrawn at most twice a second."""

    def __init__(self, name: str, done: int, total: int | None) -> None:
        self.name, self.done, self.total = name, done, total
        self.shown = 0.0

    def advance(self, amount: int) -> None:
        self.done += amount
        if time.monotonic() - self.shown >= 0.5:
            self.show()

    def show(self, end: str = "") -> None:
        self.shown = time.monotonic()
        megabytes = f"{self.done / 1e6:.1f}"
        if self.total:
            line = (
                f"{100 * self.done / self.total:5.1f}% ({megabytes} of {self.total / 1e6:.1f} MB)"
            )
        else:
            line = f"{megabytes} MB"
        print(f"\rDownloading {self.name}: {line}", end=end, file=sys.stderr, flush=True)


@contextmanager
def open_source(url: str, start: int) -> Iterator[tuple[BinaryIO, int, int | None]]:
    """Open `url` from byte `start` where possible: (stream, first byte it gives, total size).

    http(s) asks for a Range; a server that ignores it gives the whole file again (first byte 0).
    """
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(url2pathname(parsed.path))
        with path.open("rb") as file:
            file.seek(start)
            yield file, start, path.stat().st_size
        return
    headers = {"Range": f"bytes={start}-"} if start else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416:  # the part file already holds everything
            yield _Empty(), start, start
            return
        raise
    with response:
        if response.status == 206:
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            yield response, start, int(total) if total.isdigit() else None
        else:
            length = response.headers.get("Content-Length")
            yield response, 0, int(length) if length else None


class _Empty:
    """A stream with nothing left to read."""

    def read(self, size: int = -1) -> bytes:
        return b""


def download(url: str, archive: Path) -> None:
    """Fetch `url` into `archive` through `<archive>.part`, resuming a partial download."""
    part = archive.with_name(archive.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    try:
        with open_source(url, start) as (stream, first, total):
            progress = Progress(archive.name, first, total)
            with part.open("ab" if first else "wb") as file:
                while chunk := stream.read(CHUNK):
                    file.write(chunk)
                    progress.advance(len(chunk))
            progress.show(end="\n")
    except (OSError, urllib.error.URLError, http.client.HTTPException) as error:
        raise DataError(
            f"downloading {url} failed after {part.stat().st_size if part.exists() else 0} bytes "
            f"({getattr(error, 'reason', error)}): run the command again to resume"
        ) from error
    if total is not None and part.stat().st_size != total:
        raise DataError(
            f"downloading {url} stopped at {part.stat().st_size} of {total} bytes: run the "
            "command again to resume"
        )
    part.rename(archive)


def verify(archive: Path, size: int | None, sha256: str | None, downloaded: bool) -> None:
    """Check the archive's size and sha256 when they are known; a bad download is deleted, a bad
    archive the user supplied is kept."""
    problem = None
    if size is not None and archive.stat().st_size != size:
        problem = f"is {archive.stat().st_size} bytes, not {size}"
    elif sha256:
        digest = hashlib.sha256()
        with archive.open("rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256.lower():
            problem = f"has sha256 {digest.hexdigest()}, not {sha256}"
    if problem and not downloaded:
        raise DataError(f"{archive} {problem}: check archive=, size= and sha256=")
    if problem:
        archive.unlink()
        raise DataError(
            f"the downloaded {archive} {problem}: it was deleted; run again, or check url/sha256"
        )


def unpack(archive: Path, dest: Path) -> None:
    """Extract into a temporary sibling of `dest`, check the layout, then rename it to `dest`."""
    staging = dest.with_name(f".{dest.name}.unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(staging)
        else:
            with tarfile.open(archive) as tar:
                members = checked_members(tar, archive)
                tar.extractall(staging, members=members, **extract_options())
        root = dataset_root(staging, archive)
        if dest.exists():
            dest.rmdir()
        root.rename(dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise DataError(f"cannot unpack {archive} ({error}): delete it and run again") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def extract_options() -> dict[str, str]:
    """tarfile's safe `data` filter (no absolute paths, links or devices) where Python has it."""
    return {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def checked_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The archive's members, each refused (naming it) if it would write outside the folder it is
    unpacked into: an absolute path, a `..` component, a link whose target leads out, a device."""
    members = tar.getmembers()
    for member in members:
        problem = member_problem(member)
        if problem:
            raise DataError(f"{archive} holds {member.name!r}, {problem}: not unpacked")
    return members


def member_problem(member: tarfile.TarInfo) -> str | None:
    """What makes one tar member unsafe to extract, or None."""
    if member.ischr() or member.isblk() or member.isfifo():
        return "a device or pipe"
    if escapes(member.name, "."):
        return "a path that leads out of the archive's folder"
    if member.issym() and escapes(member.linkname, os.path.dirname(member.name)):
        return f"a symlink to {member.linkname!r} outside the archive's folder"
    if member.islnk() and escapes(member.linkname, "."):
        return f"a hard link to {member.linkname!r} outside the archive's folder"
    return None


def escapes(name: str, start: str) -> bool:
    """True if `name`, taken relative to folder `start` of the archive, is absolute or leads out."""
    if os.path.isabs(name) or name.startswith("\\"):
        return True
    return os.path.normpath(os.path.join(start, name)).split(os.sep)[0] == ".."


def dataset_root(folder: Path, archive: Path) -> Path:
    """The folder inside the extracted archive that holds the dataset, its layout checked; a
    symlink is never taken for it (renamed to `dest`, it would point elsewhere or nowhere)."""
    candidates = [folder, *sorted(p for p in folder.rglob("*") if real_folder(p))]
    root = next((c for c in candidates if is_dataset(c) and real_layout(c)), None)
    if root is None:
        raise DataError(f"{archive} holds no {IMAGES_DIR}/ and {MASKS_DIR}/: not AeroScapes")
    images = {p.stem for p in (root / IMAGES_DIR).iterdir() if is_image_file(p)}
    masks = {p.stem for p in (root / MASKS_DIR).iterdir() if is_image_file(p)}
    if images != masks:
        odd = sorted(images ^ masks)[0]
        raise DataError(f"{archive} is incomplete: {odd} has an image or a mask but not both")
    return root


def real_folder(path: Path) -> bool:
    """True for a folder that is not a symlink."""
    return path.is_dir() and not path.is_symlink()


def real_layout(root: Path) -> bool:
    """True if the image and mask folders under `root` are real folders, not symlinks."""
    return all(real_folder(root / name) for name in (IMAGES_DIR, MASKS_DIR))


def count_images(dest: Path) -> int:
    """The number of images in the dataset at `dest`; a missing dataset is a `DataError`."""
    if not (is_dataset(dest) and real_layout(dest)):
        raise DataError(
            f"{dest} holds no {IMAGES_DIR}/ and {MASKS_DIR}/ after unpacking: delete it and run "
            "again"
        )
    return sum(1 for p in (dest / IMAGES_DIR).iterdir() if is_image_file(p))


def prepare(
    dest: Path,
    url: str,
    archive: Path,
    sha256: str | None = None,
    size: int | None = None,
    keep_archive: bool = False,
) -> bool:
    """Make `dest` hold AeroScapes; return False if it already did (nothing is touched then).

    Only an archive downloaded here is deleted after unpacking (unless `keep_archive`); one that
    existed already is the user's and stays.
    """
    if is_dataset(dest):
        return False
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DataError(f"{dest} exists and is not an AeroScapes dataset: move it or choose dest=")
    downloaded = not archive.exists()
    if downloaded:
        download(url, archive)
    verify(archive, size, sha256, downloaded)
    unpack(archive, dest)
    if downloaded and not keep_archive:
        archive.unlink()
    return True
