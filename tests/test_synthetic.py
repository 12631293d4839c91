"""The synthetic drone dataset: layout, splits, masks, determinism, class balance and safety."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drone_seg.classes import CLASS_NAMES, NUM_CLASSES
from drone_seg.synthetic import generate_dataset, plan_sequences
from drone_seg.synthetic import objects as synthetic
from drone_seg.synthetic.objects import main

SMALL = {"width": 128, "height": 96}
RARE_CLASSES = ("person", "bike", "drone", "animal")


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
    """Per-class pixel counts (images, classes) of a 120-image set, and its root."""
    root = tmp_path_factory.mktemp("synthetic") / "stats"
    ids = generate_dataset(root, num_images=120, seed=0, width=160, height=96)
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


def test_all_classes_appear_with_rare_ones_small_but_frequent(class_stats) -> None:
    counts, _, _ = class_stats
    assert (counts.sum(0) > 0).all(), f"missing: {np.array(CLASS_NAMES)[counts.sum(0) == 0]}"
    share = counts.sum(0) / counts.sum()
    present = (counts > 0).mean(0)
    for name in RARE_CLASSES:
        k = CLASS_NAMES.index(name)
        assert 0.0005 < share[k] < 0.02, f"{name} covers {share[k]:.2%} of all pixels"
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
    views = {f"{p.index:06d}": p.view for p in plan_sequences(len(ids), 0, 5)}
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
    with pytest.raises(FileExistsError, match="--overwrite") as error:
        generate_dataset(out, num_images=2, **SMALL)
    assert str(out) in str(error.value) and "\n" not in str(error.value)
    assert tree_bytes(out) == {"notes.txt": b"keep me"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


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

    monkeypatch.setattr(synthetic, "write_frame", failing_write)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / "set", num_images=4, **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_the_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = [
        "--out",
        str(out),
        "--num-images",
        "3",
        "--seed",
        "1",
        "--width",
        "96",
        "--height",
        "64",
    ]
    main([*args, "--frames-per-sequence", "2"])
    assert sorted(p.stem for p in (out / "JPEGImages").glob("*.jpg")) == [
        "000000_000",
        "000000_001",
        "000001_000",
    ]
    with Image.open(out / "JPEGImages" / "000000_000.jpg") as image:
        assert image.size == (96, 64)
    printed = capsys.readouterr().out.strip()
    assert len(printed.splitlines()) == 1 and str(out) in printed and "3" in printed
    with pytest.raises(FileExistsError):
        main(args)
