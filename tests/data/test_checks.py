"""Bad data stops the run in setup with one line naming the file (or config key) and the fix;
what is not an image is skipped; the data root is never written into; the statistics cache."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drone_seg.data import statistics
from drone_seg.data.datamodule import DroneDataModule
from drone_seg.errors import ConfigError, DataError

from helpers.cli import REPO, run_command
from helpers.datasets import frame_ids, save_mask, scene_masks, write_dataset
from helpers.shipped import data_options

IDS = frame_ids(4, 5)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A valid 20-image dataset (4 sequences of 5), AeroScapes layout."""
    return write_dataset(tmp_path / "data", scene_masks(4, 5, 24, 32, seed=1), IDS)


def set_up(root: Path, tmp_path: Path, **options) -> DroneDataModule:
    datamodule = DroneDataModule(
        **data_options(root, cache_dir=str(tmp_path / "cache"), num_workers=0, **options)
    )
    datamodule.setup("fit")
    return datamodule


def fails_naming(root: Path, tmp_path: Path, path: Path, match: str, **options) -> str:
    """Set up, expecting a DataError that matches `match` and names `path`; return the message."""
    with pytest.raises(DataError, match=match) as caught:
        set_up(root, tmp_path, **options)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_image(root: Path, tmp_path: Path) -> None:
    (root / "JPEGImages" / f"{IDS[3]}.jpg").unlink()
    fails_naming(root, tmp_path, root / "SegmentationClass" / f"{IDS[3]}.png", "no image for mask")


def test_missing_mask(root: Path, tmp_path: Path) -> None:
    (root / "SegmentationClass" / f"{IDS[7]}.png").unlink()
    fails_naming(root, tmp_path, root / "JPEGImages" / f"{IDS[7]}.jpg", "no mask for image")


def test_missing_id_of_an_id_list(root: Path, tmp_path: Path) -> None:
    (root / "subset.txt").write_text(f"{IDS[0]}\nnot_there_001\n")
    fails_naming(
        root, tmp_path, root / "subset.txt", "no image for id not_there_001", ids_file="subset.txt"
    )


def test_unreadable_image(root: Path, tmp_path: Path) -> None:
    path = root / "JPEGImages" / f"{IDS[2]}.jpg"
    path.write_bytes(b"not a jpeg at all")
    fails_naming(root, tmp_path, path, "cannot read image")


def test_unreadable_mask(root: Path, tmp_path: Path) -> None:
    path = root / "SegmentationClass" / f"{IDS[5]}.png"
    path.write_bytes(path.read_bytes()[:40])
    fails_naming(root, tmp_path, path, "cannot read mask")


def test_image_and_mask_sizes_differ(root: Path, tmp_path: Path) -> None:
    path = root / "SegmentationClass" / f"{IDS[9]}.png"
    save_mask(path, np.zeros((24, 30), np.uint8))
    message = fails_naming(root, tmp_path, path, "is 32x24 but its mask")
    assert str(root / "JPEGImages" / f"{IDS[9]}.jpg") in message


@pytest.mark.parametrize("label", [12, 254])
def test_label_outside_the_classes(root: Path, tmp_path: Path, label: int) -> None:
    path = root / "SegmentationClass" / f"{IDS[11]}.png"
    mask = np.zeros((24, 32), np.uint8)
    mask[3, 4] = label
    save_mask(path, mask)
    fails_naming(root, tmp_path, path, f"holds label {label} in 1 pixels: labels must be 0..11")


def test_ignore_label_is_accepted(root: Path, tmp_path: Path) -> None:
    path = root / "SegmentationClass" / f"{IDS[11]}.png"
    mask = np.zeros((24, 32), np.uint8)
    mask[:2] = 255
    save_mask(path, mask)
    datamodule = set_up(root, tmp_path)
    assert int(datamodule.source.stats.ignored.sum()) == 64


def test_unknown_colour_in_a_colour_mask(root: Path, tmp_path: Path) -> None:
    path = root / "SegmentationClass" / f"{IDS[4]}.png"
    colours = np.zeros((24, 32, 3), np.uint8)
    colours[5, 5] = (10, 20, 30)
    Image.fromarray(colours, mode="RGB").save(path)
    fails_naming(root, tmp_path, path, r"has colour \(10, 20, 30\) in 1 pixels, which is no class")


def test_empty_dataset(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "SegmentationClass").mkdir()
    (root / "JPEGImages" / "readme.txt").write_text("nothing here")
    fails_naming(root, tmp_path, root / "JPEGImages", "no images in")


def test_missing_folder_names_the_config_key(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    message = fails_naming(
        tmp_path / "data", tmp_path, tmp_path / "data" / "JPEGImages", "is not a folder"
    )
    assert "data.images_dir" in message


def test_split_that_leaves_a_class_out_of_val(root: Path, tmp_path: Path) -> None:
    counts = set_up(root, tmp_path).source.stats.counts
    rare = int(np.flatnonzero((counts > 0).sum(axis=0) >= 2)[-1])
    holders = set(np.flatnonzero(counts[:, rare] > 0))
    val = [IDS[n] for n in range(len(IDS)) if n not in holders][:3]
    split = tmp_path / "split.csv"
    rows = [f"{i},{'val' if i in val else 'train'}" for i in IDS]
    split.write_text("image,subset\n" + "\n".join(rows) + "\n")
    with pytest.raises(ConfigError, match="puts none in val") as caught:
        set_up(root, tmp_path, split_file=str(split))
    assert f"data.split_file={split}" in str(caught.value)


def test_files_that_are_not_images_are_skipped_and_suffix_case_is_ignored(
    root: Path, tmp_path: Path
) -> None:
    for folder in ("JPEGImages", "SegmentationClass"):
        for junk in (".DS_Store", "Thumbs.db", "notes.txt", "._000000_000.jpg"):
            (root / folder / junk).write_bytes(b"junk")
        (root / folder / "extra").mkdir()
    images = root / "JPEGImages"
    (images / f"{IDS[0]}.jpg").rename(images / f"{IDS[0]}.JPG")
    (images / f"{IDS[1]}.jpg").rename(images / f"{IDS[1]}.jpeg")
    datamodule = set_up(root, tmp_path)
    assert sorted(datamodule.train_ids + datamodule.val_ids) == IDS
    assert datamodule.train_set.samples.image_paths[0].suffix in (".JPG", ".jpeg", ".jpg")


def test_two_files_with_one_id_are_an_error(root: Path, tmp_path: Path) -> None:
    (root / "JPEGImages" / f"{IDS[0]}.png").write_bytes(b"x")
    fails_naming(root, tmp_path, root / "JPEGImages" / f"{IDS[0]}.png", "share the id")


def snapshot(folder: Path) -> dict[str, int]:
    """Every path under `folder` with its mtime: any write shows up."""
    return {str(p): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def test_data_root_is_only_read_and_the_cache_goes_to_the_user_cache(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRONE_SEG_CACHE_DIR", str(tmp_path / "user-cache"))
    before = snapshot(root)
    datamodule = DroneDataModule(**data_options(root, num_workers=0))
    datamodule.prepare_data()
    datamodule.setup("fit")
    assert snapshot(root) == before
    assert len(list((tmp_path / "user-cache").rglob("class_counts.npz"))) == 1


def test_cache_is_reused_and_invalidated_per_file(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = set_up(root, tmp_path).source.stats.counts
    changed = root / "SegmentationClass" / f"{IDS[6]}.png"
    new_mask = np.full((24, 32), 3, np.uint8)
    save_mask(changed, new_mask)
    os.utime(changed, ns=(1, 1))
    read = []
    original = statistics.scan_pair
    monkeypatch.setattr(statistics, "scan_pair", lambda i, m: read.append(m) or original(i, m))
    second = set_up(root, tmp_path).source.stats.counts
    assert read == [changed]
    assert second[6, 3] == 24 * 32 and np.array_equal(
        np.delete(second, 6, 0), np.delete(first, 6, 0)
    )
    read.clear()
    set_up(root, tmp_path)
    assert read == []


def test_unwritable_cache_only_warns(
    root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    with caplog.at_level(logging.WARNING):
        datamodule = DroneDataModule(**data_options(root, cache_dir=str(blocker), num_workers=0))
        datamodule.setup("fit")
    assert len(datamodule.val_ids) == 4
    assert "Cannot write the statistics cache" in caplog.text


def test_train_command_stops_with_one_line_naming_the_bad_file(root: Path, tmp_path: Path) -> None:
    bad = root / "SegmentationClass" / f"{IDS[8]}.png"
    bad.write_bytes(b"\x89PNG broken")
    command = [
        "drone_seg.train", "experiment=demo", f"data.root={root}",
        "trainer.fast_dev_run=true", f"hydra.run.dir={tmp_path / 'run'}",
        f"data.cache_dir={tmp_path / 'cache'}", "data.num_workers=0",
    ]  # fmt: skip
    result = run_command(*command, cwd=REPO, expect_ok=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert str(bad) in errors[0] and "Traceback" not in result.stderr


def test_split_with_an_empty_val(root: Path, tmp_path: Path) -> None:
    split = tmp_path / "split.csv"
    split.write_text("image,subset\n" + "".join(f"{i},train\n" for i in IDS))
    with pytest.raises(ConfigError, match="puts no image in val") as caught:
        set_up(root, tmp_path, split_file=str(split))
    assert f"data.split_file={split}" in str(caught.value)
