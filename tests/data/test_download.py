"""`drone_seg.prepare` offline: a local archive served by file:// and by an HTTP server on
127.0.0.1 with Range support; resume, verification, atomic unpacking, no overwriting."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from drone_seg.data import download as download_module
from drone_seg.data.download import prepare
from drone_seg.errors import DataError

from helpers.cli import run_command
from helpers.datasets import frame_ids, scene_masks, write_dataset

IDS = frame_ids(3, 4)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A .tar.gz of aeroscapes/ (12 images) laid out like the real archive."""
    base = tmp_path_factory.mktemp("archive")
    root = write_dataset(base / "aeroscapes", scene_masks(3, 4, 24, 32), IDS)
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "trn.txt").write_text("\n".join(IDS[:8]) + "\n")
    (root / "ImageSets" / "val.txt").write_text("\n".join(IDS[8:]) + "\n")
    (root / "padding.bin").write_bytes(np.random.default_rng(0).bytes(300_000))
    path = base / "aeroscapes.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname="aeroscapes")
    return path


class Server:
    """An HTTP server in a thread serving one file, honouring `Range: bytes=N-`; it can be told
    to cut the connection after some bytes, and records the Range headers it got."""

    def __init__(self, payload: bytes) -> None:
        self.payload, self.cut_after, self.ranges = payload, None, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                start = 0
                header = self.headers.get("Range")
                server.ranges.append(header)
                if header:
                    start = int(header.removeprefix("bytes=").split("-")[0])
                    if start >= len(server.payload):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    end = len(server.payload) - 1
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(server.payload)}")
                else:
                    self.send_response(200)
                body = server.payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body = body[: server.cut_after]
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/aeroscapes.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(archive: Path) -> Iterator[Server]:
    served = Server(archive.read_bytes())
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_url_download_unpacks_a_checked_dataset(archive: Path, tmp_path: Path) -> None:
    dest, download = tmp_path / "data" / "aeroscapes", tmp_path / "data" / "aeroscapes.tar.gz"
    assert prepare(dest, archive.as_uri(), download, sha256=sha256(archive), keep_archive=True)
    assert sorted(p.stem for p in (dest / "JPEGImages").iterdir()) == IDS
    assert (dest / "ImageSets" / "val.txt").is_file()
    assert download.read_bytes() == archive.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["aeroscapes", "aeroscapes.tar.gz"]
    assert not prepare(dest, "file:///nowhere", download)  # already there: nothing is fetched


def test_interrupted_http_download_resumes_with_a_range_request(
    archive: Path, server: Server, tmp_path: Path
) -> None:
    dest, download = tmp_path / "aeroscapes", tmp_path / "aeroscapes.tar.gz"
    server.cut_after = 100_000
    with pytest.raises(DataError, match="run the command again to resume"):
        prepare(dest, server.url, download)
    part = tmp_path / "aeroscapes.tar.gz.part"
    assert part.stat().st_size == 100_000 and not dest.exists()
    server.cut_after = None
    assert prepare(dest, server.url, download, size=archive.stat().st_size)
    assert server.ranges == [None, "bytes=100000-"]
    assert len(list((dest / "SegmentationClass").iterdir())) == len(IDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aeroscapes"]


def test_a_bad_checksum_deletes_the_download_and_leaves_no_dataset(
    archive: Path, server: Server, tmp_path: Path
) -> None:
    dest, download = tmp_path / "aeroscapes", tmp_path / "aeroscapes.tar.gz"
    with pytest.raises(DataError, match=r"has sha256 .* it was deleted"):
        prepare(dest, server.url, download, sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_an_archive_without_the_layout_is_rejected(tmp_path: Path) -> None:
    source = tmp_path / "other"
    (source / "docs").mkdir(parents=True)
    (source / "docs" / "readme.txt").write_text("not a dataset")
    bad = tmp_path / "other.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(source, arcname="other")
    dest = tmp_path / "out" / "aeroscapes"
    with pytest.raises(DataError, match="holds no JPEGImages/ and SegmentationClass/"):
        prepare(dest, bad.as_uri(), tmp_path / "out" / "download.tar.gz", keep_archive=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["download.tar.gz"]


def test_an_existing_folder_is_never_overwritten(archive: Path, tmp_path: Path) -> None:
    dest = tmp_path / "aeroscapes"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="exists and is not an AeroScapes dataset"):
        prepare(dest, archive.as_uri(), tmp_path / "download.tar.gz")
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]
    assert not (tmp_path / "download.tar.gz").exists()


def test_progress_is_shown(archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    download_module.download(archive.as_uri(), tmp_path / "a.tar.gz")
    assert "Downloading a.tar.gz: 100.0%" in capsys.readouterr().err


def test_prepare_command(archive: Path, tmp_path: Path) -> None:
    dest = tmp_path / "aeroscapes"
    command = [
        "drone_seg.prepare", f"url={archive.as_uri()}",
        f"dest={dest}", f"archive={tmp_path / 'download.tar.gz'}",
    ]  # fmt: skip
    result = run_command(*command, cwd=tmp_path, expect_ok=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Unpacked AeroScapes in {dest} (12 images)" in result.stdout
    again = run_command(*command, cwd=tmp_path, expect_ok=False)
    assert f"Already there: AeroScapes in {dest}" in again.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aeroscapes"]


def archive_with(source: Path, path: Path, *extra: tarfile.TarInfo) -> Path:
    """A copy of the `source` archive at `path` with the `extra` members appended."""
    with tarfile.open(source) as original, tarfile.open(path, "w:gz") as tar:
        for member in original.getmembers():
            tar.addfile(member, original.extractfile(member) if member.isfile() else None)
        for member in extra:
            body = b"planted" if member.isfile() else None
            member.size = len(body) if body else 0
            tar.addfile(member, io.BytesIO(body) if body else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


UNSAFE = {
    "absolute path": lambda outside: member(str(outside / "planted.txt")),
    "dot-dot path": lambda outside: member("aeroscapes/../../outside/planted.txt"),
    "absolute symlink": lambda outside: member("aeroscapes/l", tarfile.SYMTYPE, str(outside)),
    "symlink leading out": lambda outside: member(
        "aeroscapes/JPEGImages/l", tarfile.SYMTYPE, "../../../outside"
    ),
    "hard link leading out": lambda outside: member(
        "aeroscapes/h", tarfile.LNKTYPE, "../outside/secret.txt"
    ),
    "character device": lambda outside: member("aeroscapes/null", tarfile.CHRTYPE),
    "fifo": lambda outside: member("aeroscapes/pipe", tarfile.FIFOTYPE),
}


@pytest.fixture(params=["data filter", "own checks only"])
def tar_filter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with tarfile's `data` filter, and as on Python < 3.10.12 / 3.11.4, without it."""
    if request.param == "own checks only":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
        assert download_module.extract_options() == {}
    else:
        assert download_module.extract_options() == {"filter": "data"}
    return request.param


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_unsafe_members_are_refused_before_anything_is_written(
    archive: Path, tmp_path: Path, tar_filter: str, kind: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("mine")
    bad = archive_with(archive, tmp_path / "bad.tar.gz", UNSAFE[kind](outside))
    dest = tmp_path / "out" / "aeroscapes"
    with pytest.raises(DataError, match="not unpacked") as caught:
        prepare(dest, "file:///nowhere", bad)
    assert "\n" not in str(caught.value) and str(bad) in str(caught.value)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not dest.exists() and not list((tmp_path / "out").glob(".*"))
    assert bad.is_file()  # the user's archive stays


def test_links_that_stay_inside_are_unpacked(
    archive: Path, tmp_path: Path, tar_filter: str
) -> None:
    good = archive_with(
        archive,
        tmp_path / "good.tar.gz",
        member("aeroscapes/ImageSets/all.txt", tarfile.SYMTYPE, "trn.txt"),
        member("aeroscapes/copy.txt", tarfile.LNKTYPE, "aeroscapes/ImageSets/val.txt"),
    )
    dest = tmp_path / "aeroscapes"
    assert prepare(dest, "file:///nowhere", good)
    assert (dest / "ImageSets" / "all.txt").read_text() == "\n".join(IDS[:8]) + "\n"
    assert (dest / "copy.txt").read_text() == "\n".join(IDS[8:]) + "\n"


def test_a_symlinked_folder_is_never_the_dataset_root(archive: Path, tmp_path: Path) -> None:
    linked = archive_with(
        archive, tmp_path / "linked.tar.gz", member("a_link", tarfile.SYMTYPE, "aeroscapes")
    )
    dest = tmp_path / "data" / "aeroscapes"
    command = [
        "drone_seg.prepare", "url=file:///nowhere", f"dest={dest}",
        f"archive={linked}",
    ]  # fmt: skip
    result = run_command(*command, cwd=tmp_path, expect_ok=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Unpacked AeroScapes in {dest} (12 images)" in result.stdout
    assert dest.is_dir() and not dest.is_symlink()
    assert not (dest / "JPEGImages").is_symlink()


def test_an_archive_whose_only_layout_is_symlinked_is_one_line(
    archive: Path, tmp_path: Path
) -> None:
    source = tmp_path / "src" / "aeroscapes"
    write_dataset(source, scene_masks(1, 2, 16, 16), IDS[:2], images_dir="imgs", masks_dir="masks")
    (source / "JPEGImages").symlink_to("imgs")
    (source / "SegmentationClass").symlink_to("masks")
    linked = tmp_path / "linked.tar.gz"
    with tarfile.open(linked, "w:gz") as tar:
        tar.add(source, arcname="aeroscapes")
    command = [
        "drone_seg.prepare", "url=file:///nowhere",
        f"dest={tmp_path / 'aeroscapes'}", f"archive={linked}",
    ]  # fmt: skip
    result = run_command(*command, cwd=tmp_path, expect_ok=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {linked} holds no JPEGImages/ and SegmentationClass/: not AeroScapes"
    ]


def test_an_archive_the_user_supplied_is_never_deleted(archive: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.tar.gz"
    mine.write_bytes(archive.read_bytes())
    with pytest.raises(DataError, match=r"has sha256 .*check archive="):
        prepare(tmp_path / "a", "file:///nowhere", mine, sha256="0" * 64)
    assert mine.read_bytes() == archive.read_bytes()
    assert prepare(tmp_path / "aeroscapes", "file:///nowhere", mine, keep_archive=False)
    assert mine.read_bytes() == archive.read_bytes()
    assert len(list((tmp_path / "aeroscapes" / "JPEGImages").iterdir())) == len(IDS)


def test_a_dataset_missing_after_unpacking_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "aeroscapes" / "JPEGImages").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no JPEGImages/ and SegmentationClass/ after"):
        download_module.count_images(tmp_path / "aeroscapes")
