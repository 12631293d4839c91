"""On-disk cache of per-image statistics, reused file by file while size and mtime are unchanged.

It lives in a user cache folder (`data.cache_dir`, default `$DRONE_SEG_CACHE_DIR`, else
`$XDG_CACHE_HOME/drone_seg`, else `~/.cache/drone_seg`), in a subfolder named after a hash of the
dataset's folders: the data root is only ever read. A cache that cannot be read or written is
skipped with a warning; it never stops a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drone_seg.data.layout import Samples

log = logging.getLogger(__name__)

FILE_NAME = "class_counts.npz"
# Bumped whenever the meaning of a cached row changes, so that old caches are ignored (2: images
# fully decoded, orientation tags).
VERSION = 2


def user_cache_dir() -> Path:
    """The folder caches go to when `data.cache_dir` is not set."""
    if os.environ.get("DRONE_SEG_CACHE_DIR"):
        return Path(os.environ["DRONE_SEG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "drone_seg"


def file_signature(path: Path) -> tuple[int, int]:
    """(size, mtime in ns) of `path`, or (-1, -1) when it cannot be stat'ed."""
    try:
        stat = path.stat()
    except OSError:
        return -1, -1
    return stat.st_size, stat.st_mtime_ns


@dataclass(frozen=True)
class StatsCache:
    """The cache file of one dataset, and the key and signature of each of its samples."""

    path: Path
    keys: np.ndarray
    signatures: np.ndarray

    @classmethod
    def for_samples(cls, samples: Samples, cache_dir: Path | None) -> StatsCache:
        """The cache of `samples`, keyed by their image and mask folders."""
        folders = {p.parent.resolve() for p in samples.image_paths[:1] + samples.mask_paths[:1]}
        digest = hashlib.sha1("\n".join(sorted(map(str, folders))).encode()).hexdigest()[:16]
        path = Path(cache_dir or user_cache_dir()) / digest / FILE_NAME
        keys = np.array(
            [
                f"{i.name}|{m.name}"
                for i, m in zip(samples.image_paths, samples.mask_paths, strict=True)
            ]
        )
        signatures = np.array(
            [
                file_signature(i) + file_signature(m)
                for i, m in zip(samples.image_paths, samples.mask_paths, strict=True)
            ],
            dtype=np.int64,
        ).reshape(len(samples), 4)
        return cls(path, keys, signatures)

    def load(self, width: int) -> tuple[np.ndarray, set[int]]:
        """Rows (samples, width) from the cache and the positions it had no valid row for."""
        rows = np.zeros((len(self.keys), width), dtype=np.int64)
        missing = set(range(len(self.keys)))
        try:
            with np.load(self.path) as stored:
                if int(stored["version"]) != VERSION or stored["rows"].shape[1] != width:
                    return rows, missing
                position = {key: n for n, key in enumerate(stored["keys"])}
                cached_signatures, cached_rows = stored["signatures"], stored["rows"]
        except (FileNotFoundError, NotADirectoryError):
            return rows, missing
        except (OSError, ValueError, KeyError) as error:
            log.warning("Ignoring the unreadable statistics cache %s (%s)", self.path, error)
            return rows, missing
        for n, key in enumerate(self.keys):
            hit = position.get(key)
            if hit is not None and np.array_equal(cached_signatures[hit], self.signatures[n]):
                rows[n] = cached_rows[hit]
                missing.discard(n)
        return rows, missing

    def save(self, rows: np.ndarray) -> None:
        """Write the rows atomically (a temporary file renamed into place); warn on failure."""
        temporary = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as file:
                np.savez(
                    file, version=VERSION, keys=self.keys, signatures=self.signatures, rows=rows
                )
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning(
                "Cannot write the statistics cache %s (%s): they will be computed again next "
                "run; set data.cache_dir to a writable folder",
                self.path,
                error,
            )
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
