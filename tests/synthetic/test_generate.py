"""The synthetic drone dataset: layout, splits, masks, determinism, class balance and safety."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drone_seg.aeroscapes_layout import UNUSED, VAL
from drone_seg.classes import CLASS_NAMES, NUM_CLASSES
from drone_seg.data.splitting.assignment import official_assignment
from drone_seg.errors import ConfigError, DataError
from drone_seg.synthetic import generate_dataset, plan_sequences, writer

from helpers.cli import run_command
from helpers.config import compose_config

SMALL = {"width": 128, "height": 96}
RARE_CLASSES = ("bike", "drone", "boat", "animal")
# Rare classes in about a third of the flights: the denser mix the test sets render with.
DENSE = {"boat": 0.3, "animal": 0.3, "drone": 0.5, "sky": 0.5}


def read_ids(path: Path) -> list[str]:
    """Ids listed one per line in a split file."""
    return path.read_text().split()


def read_mask(root: Path, image_id: str) -> np.ndarray:
    """A class mask as a uint8 array, checking it is a single-channel 8-bit PNG."""
    with Image.open(root / "SegmentationClass" / f"{image_id}.png") as mask:
        assert mask.mode == "L"
        return np.asarray(mask)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """23 small images: four full 5-frame sequences and a shorter last one."""
    root = tmp_path_factory.mktemp("synthetic") / "set"
    ids = generate_dataset(root, num_images=23, seed=3, frames_per_sequence=5, **SMALL)
    return root, ids


@pytest.fixture(scope="module")
def class_stats(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray, Path]:
    """Per-class pixel counts (images, classes) of a 120-image set of the denser mix, and its
    root."""
    root = tmp_path_factory.mktemp("synthetic") / "stats"
    ids = generate_dataset(root, num_images=120, seed=0, width=160, height=96, class_mix=DENSE)
    counts = np.stack([np.bincount(read_mask(root, i).ravel(), minlength=NUM_CLASSES) for i in ids])
    return counts, np.array(ids), root


def test_layout_and_ids(small_set: tuple[Path, list[str]]) -> None:
    root, ids = small_set
    assert len(ids) == 23
    assert all(re.fullmatch(r"\d{6}_\d{3}", i) for i in ids)
    assert ids[:6] == [f"000000_00{k}" for k in range(5)] + ["000001_000"]
    assert ids[-3:] == ["000004_000", "000004_001", "000004_002"]
    assert sorted(p.stem for p in (root / "JPEGImages").glob("*.jpg")) == ids
    assert sorted(p.stem for p in (root / "SegmentationClass").glob("*.png")) == ids
    assert sorted(p.name for p in root.iterdir()) == [
        "ImageSets",
        "JPEGImages",
        "SegmentationClass",
    ]
    assert not list(root.parent.glob("set.*")), "no temporary or leftover sibling folders"


def test_splits_partition_whole_sequences(small_set: tuple[Path, list[str]]) -> None:
    root, ids = small_set
    train = read_ids(root / "ImageSets" / "trn.txt")
    val = read_ids(root / "ImageSets" / "val.txt")
    assert sorted(train + val) == ids and not set(train) & set(val)
    assert train and val
    sequences = {
        subset: {i.split("_")[0] for i in part} for subset, part in (("trn", train), ("val", val))
    }
    assert not sequences["trn"] & sequences["val"]


def test_official_split_reads_the_lists_back(small_set: tuple[Path, list[str]]) -> None:
    root, ids = small_set
    lists = root / "ImageSets"
    subset = official_assignment(ids, lists / "trn.txt", lists / "val.txt")
    val = [i for i, s in zip(ids, subset, strict=True) if s == VAL]
    assert (subset != UNUSED).all() and val == read_ids(lists / "val.txt")


def test_images_and_masks_match(small_set: tuple[Path, list[str]]) -> None:
    root, ids = small_set
    for image_id in ids:
        with Image.open(root / "JPEGImages" / f"{image_id}.jpg") as image:
            assert image.mode == "RGB" and image.format == "JPEG"
            assert image.size == (SMALL["width"], SMALL["height"])
        mask = read_mask(root, image_id)
        assert mask.dtype == np.uint8
        assert mask.shape == (SMALL["height"], SMALL["width"])
        assert mask.max() < NUM_CLASSES


def test_frames_of_a_sequence_show_the_same_scene(small_set: tuple[Path, list[str]]) -> None:
    root, _ = small_set
    first, second, other = (read_mask(root, i) for i in ("000000_000", "000000_001", "000001_000"))
    assert (first == second).mean() > 0.6
    assert (first == second).mean() > (first == other).mean()


def test_same_seed_gives_identical_files_other_seed_differs(tmp_path: Path) -> None:
    spec = {"num_images": 6, "frames_per_sequence": 3, "width": 96, "height": 64}
    generate_dataset(tmp_path / "a", seed=5, **spec)
    generate_dataset(tmp_path / "b", seed=5, **spec)
    generate_dataset(tmp_path / "c", seed=6, **spec)
    first, again, other = (tree_bytes(tmp_path / name) for name in "abc")
    assert first == again
    images = [name for name in first if name.endswith(".jpg")]
    assert all(first[name] != other[name] for name in images)


def test_a_denser_class_mix_shows_every_class_with_rare_ones_small(class_stats) -> None:
    counts, _, _ = class_stats
    assert (counts.sum(0) > 0).all(), f"missing: {np.array(CLASS_NAMES)[counts.sum(0) == 0]}"
    share = counts.sum(0) / counts.sum()
    present = (counts > 0).mean(0)
    for name in RARE_CLASSES:
        k = CLASS_NAMES.index(name)
        assert 0.0002 < share[k] < 0.02, f"{name} covers {share[k]:.2%} of all pixels"
        assert present[k] >= 0.15, f"{name} appears in only {present[k]:.0%} of images"


def test_image_colours_follow_the_mask(class_stats) -> None:
    _, ids, root = class_stats
    sums = np.zeros((NUM_CLASSES, 3))
    counts = np.zeros(NUM_CLASSES)
    for image_id in ids:
        with Image.open(root / "JPEGImages" / f"{image_id}.jpg") as image:
            rgb = np.asarray(image, float)
        mask = read_mask(root, image_id)
        np.add.at(sums, mask.ravel(), rgb.reshape(-1, 3))
        counts += np.bincount(mask.ravel(), minlength=NUM_CLASSES)
    mean = sums / counts[:, None]
    sky, vegetation, road = (CLASS_NAMES.index(n) for n in ("sky", "vegetation", "road"))
    assert mean[sky, 2] > mean[sky, 0], "sky is bluish"
    assert mean[vegetation, 1] > mean[vegetation, 2], "vegetation is green or yellow"
    assert mean[sky].mean() > mean[road].mean() + 40, "sky is much brighter than asphalt"


def test_oblique_frames_have_sky_on_top_and_nadir_frames_none(class_stats) -> None:
    counts, ids, root = class_stats
    sky = CLASS_NAMES.index("sky")
    views = {f"{p.index:06d}": p.view for p in plan_sequences(len(ids), 0, None, DENSE)}
    assert set(views.values()) == {"oblique", "nadir"}
    for image_id, count in zip(ids, counts, strict=True):
        mask = read_mask(root, image_id)
        if views[image_id[:6]] == "nadir":
            assert count[sky] == 0, image_id
        else:
            assert (mask[:3] == sky).mean() > 0.6, image_id
            assert not (mask[-3:] == sky).any(), image_id


def test_refuses_non_empty_destination_and_leaves_it_alone(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="overwrite=true") as error:
        generate_dataset(out, num_images=2, **SMALL)
    assert str(out) in str(error.value) and "\n" not in str(error.value)
    assert tree_bytes(out) == {"notes.txt": b"keep me"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [("num_images", 0), ("frames_per_sequence", 0), ("width", 0), ("height", "64"), ("seed", -1)],
)
def test_bad_setting_names_its_key_and_writes_nothing(tmp_path: Path, setting: str, value) -> None:
    spec = {"num_images": 2, "frames_per_sequence": 2, "seed": 0, **SMALL, setting: value}
    with pytest.raises(ConfigError, match=rf"^{setting}={value!r}: expected a whole number"):
        generate_dataset(tmp_path / "set", **spec)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_names_the_file_and_leaves_no_dataset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(writer.cv2, "imwrite", lambda *args: False)
    with pytest.raises(DataError, match=r"could not write \S+000000_000\.jpg: check"):
        generate_dataset(tmp_path / "set", num_images=2, **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_an_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "set"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    ids = generate_dataset(out, num_images=2, overwrite=True, **SMALL)
    assert not (out / "stale.txt").exists()
    assert sorted(p.stem for p in (out / "JPEGImages").iterdir()) == ids
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_interrupted_generation_leaves_no_dataset(tmp_path: Path, monkeypatch) -> None:
    written = []

    def failing_write(root: Path, image_id: str, image: np.ndarray, mask: np.ndarray) -> None:
        if written:
            raise KeyboardInterrupt
        written.append(image_id)

    monkeypatch.setattr(writer, "write_frame", failing_write)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / "set", num_images=4, **SMALL)
    assert list(tmp_path.iterdir()) == []


def synthesize(cwd: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m drone_seg.synthesize` with Hydra overrides in `cwd`."""
    command = ["drone_seg.synthesize", *overrides]
    return run_command(*command, cwd=cwd, expect_ok=False)


def test_command_writes_the_dataset_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = [f"dir={out}", "num_images=3", "seed=1", "width=96", "height=64"]
    result = synthesize(tmp_path, *args, "frames_per_sequence=2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.stem for p in (out / "JPEGImages").glob("*.jpg")) == [
        "000000_000",
        "000000_001",
        "000001_000",
    ]
    with Image.open(out / "JPEGImages" / "000000_000.jpg") as image:
        assert image.size == (96, 64)
    printed = result.stdout.strip()
    assert len(printed.splitlines()) == 1 and str(out) in printed and "3" in printed
    before = tree_bytes(out)
    again = synthesize(tmp_path, *args)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].startswith(f"error: {out} already exists")
    assert tree_bytes(out) == before
    bad = synthesize(tmp_path, f"dir={tmp_path / 'other'}", "num_images=ten")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == ("error: num_images=ten must be an integer >= 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli"]


def test_command_defaults_are_the_training_set(tmp_path: Path) -> None:
    command = compose_config("synthesize")
    training = compose_config("train", "data=synthetic").data.synthetic
    custom = compose_config("synthesize", "num_images=7", "width=64")
    assert {key: command[key] for key in training} == dict(training)
    assert custom.dir.endswith("synthetic-7x64x272-seed0")
    help_text = synthesize(tmp_path, "--help")
    assert help_text.returncode == 0
    for key in ("dir:", "num_images:", "frames_per_sequence:", "overwrite:"):
        assert key in help_text.stdout
