"""eval's protocol: val images predicted whole, tiled or with TTA, scored at native mask resolution.

The tiny session model (helpers.trained) is scored on a copy of its dataset whose val masks carry
a band of ignore-label pixels, so that "every labelled pixel" differs from "every pixel".
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drone_seg.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES, SMALL_CLASSES
from drone_seg.config_checks import check_config
from drone_seg.data.io import read_mask
from drone_seg.errors import ConfigError
from drone_seg.eval import Evaluation, evaluate
from drone_seg.predict import predict
from drone_seg.runs.run_dir import RunDir, read_metrics

from helpers.cli import one_line_error, run_command
from helpers.config import compose_config

IGNORED_ROWS = 7  # top rows of every val mask set to the ignore label
# Whole images resized to 64x96 for the network, scored against their 96x160 masks.
INPUT = "protocol.size=[64,96]"
PROTOCOL = ("protocol.enabled=true", "trainer.accelerator=cpu", "protocol.device=cpu")
NO_TTA = ("protocol.tta.hflip=false", "protocol.tta.scales=[1.0]")


@pytest.fixture(scope="module")
def checkpoint(shared_run: RunDir) -> Path:
    """The best checkpoint of the session's shared run."""
    return shared_run.best_checkpoint


@pytest.fixture(scope="module")
def val_ids(checkpoint: Path) -> list[str]:
    with (checkpoint.parents[1] / "split.csv").open(newline="") as file:
        return [row["image"] for row in csv.DictReader(file) if row["subset"] == "val"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, synthetic_root: Path, val_ids: list[str]) -> Path:
    """The session dataset with the top rows of each val mask ignored (label 255)."""
    root = tmp_path_factory.mktemp("ignored") / "synthetic"
    shutil.copytree(synthetic_root, root)
    for image_id in val_ids:
        path = root / "SegmentationClass" / f"{image_id}.png"
        mask = read_mask(path).copy()
        mask[:IGNORED_ROWS] = IGNORE_INDEX
        Image.fromarray(mask).save(path)
    return root


def run_eval(checkpoint: Path, data_root: Path, out: Path, *overrides: str) -> Evaluation:
    cfg = compose_config(
        "eval",
        f"ckpt_path={checkpoint}",
        f"data.root={data_root}",
        *PROTOCOL,
        *overrides,
        run_dir=out,
    )
    check_config(cfg, "eval")
    return evaluate(cfg)


@pytest.fixture(scope="module")
def scored(tmp_path_factory, checkpoint: Path, data_root: Path) -> tuple[Evaluation, Path]:
    """Whole images at 64x96, single-scale and TTA (flip, two scales)."""
    out = tmp_path_factory.mktemp("protocol") / "eval"
    tta = ("protocol.tta.hflip=true", "protocol.tta.scales=[0.75,1.0]")
    return run_eval(checkpoint, data_root, out, INPUT, *tta), out


def labelled_pixels(data_root: Path, val_ids: list[str]) -> int:
    """Pixels of the val masks as stored that hold a class (not the ignore label)."""
    masks = [read_mask(data_root / "SegmentationClass" / f"{i}.png") for i in val_ids]
    assert all(mask.shape == (96, 160) for mask in masks)
    return sum(int((mask != IGNORE_INDEX).sum()) for mask in masks)


def test_every_labelled_pixel_at_native_size_is_scored_once_per_row(
    scored, data_root: Path, val_ids: list[str]
) -> None:
    evaluation, out = scored
    expected = labelled_pixels(data_root, val_ids)
    assert expected == len(val_ids) * (96 - IGNORED_ROWS) * 160
    assert [row.row.prefix for row in evaluation.protocol] == ["single", "tta"]
    saved = read_metrics(out / "protocol.json")
    for row in evaluation.protocol:
        assert row.confusion.shape == (NUM_CLASSES, NUM_CLASSES)
        assert int(row.confusion.sum()) == expected
        assert saved[f"{row.row.prefix}/pixels"] == expected
        assert saved[f"{row.row.prefix}/images"] == len(val_ids) == 8
    # The validation loop still scores at training's val size, with training's keys only.
    assert all(key.startswith("val/") for key in read_metrics(out / "metrics.json"))


def numpy_scores(truths: list[np.ndarray], predictions: list[np.ndarray]) -> dict[str, float]:
    """IoU and Dice per class from a numpy confusion matrix of labelled pixels."""
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for truth, predicted in zip(truths, predictions, strict=True):
        labelled = truth != IGNORE_INDEX
        pairs = truth[labelled].astype(np.int64) * NUM_CLASSES + predicted[labelled]
        confusion += np.bincount(pairs, minlength=NUM_CLASSES**2).reshape(confusion.shape)
    scores = {}
    for index, name in enumerate(CLASS_NAMES):
        hit = confusion[index, index]
        both = confusion[index].sum() + confusion[:, index].sum()
        scores[f"iou_{name}"] = hit / (both - hit) if both else math.nan
        scores[f"dice_{name}"] = 2 * hit / both if both else math.nan
    return scores


def test_single_scale_scores_match_predicts_masks_counted_with_numpy(
    scored, checkpoint: Path, data_root: Path, val_ids: list[str], tmp_path: Path
) -> None:
    """predict (same size, one scale) writes the masks; numpy scores them independently."""
    images = tmp_path / "val"
    images.mkdir()
    for image_id in val_ids:
        shutil.copy(data_root / "JPEGImages" / f"{image_id}.jpg", images)
    output = tmp_path / "predicted"
    predict(
        compose_config(
            "predict", f"ckpt_path={checkpoint}", f"input={images}",
            f"output={output}", "size=[64,96]", "device=cpu", run_dir=tmp_path / "run",
        )
    )  # fmt: skip
    predictions = [np.asarray(Image.open(output / f"{i}.png")) for i in val_ids]
    truths = [read_mask(data_root / "SegmentationClass" / f"{i}.png") for i in val_ids]
    expected = numpy_scores(truths, predictions)
    saved = read_metrics(scored[1] / "protocol.json")
    for key, value in expected.items():
        assert saved[f"single/{key}"] == pytest.approx(value, abs=1e-12, nan_ok=True), key
    assert any(saved[f"single/iou_{name}"] > 0.3 for name in CLASS_NAMES)  # a model, not noise


def test_means_over_all_foreground_and_small_classes(scored) -> None:
    saved = read_metrics(scored[1] / "protocol.json")
    for prefix in ("single", "tta"):
        for score in ("iou", "dice"):
            values = [saved[f"{prefix}/{score}_{name}"] for name in CLASS_NAMES]
            small = [saved[f"{prefix}/{score}_{name}"] for name in SMALL_CLASSES]
            assert saved[f"{prefix}/{score}"] == pytest.approx(np.nanmean(values))
            assert saved[f"{prefix}/{score}_fg"] == pytest.approx(np.nanmean(values[1:]))
            assert saved[f"{prefix}/{score}_small"] == pytest.approx(np.nanmean(small))
    # TTA averages other views: its class maps, hence its scores, differ from single-scale.
    assert saved["tta/iou_background"] != saved["single/iou_background"]
    # Undefined scores (0/0) are written as null, never as 0 or 1.
    raw = json.loads((scored[1] / "protocol.json").read_text())
    assert all(value is None or math.isfinite(value) for value in raw.values())


def test_the_report_puts_single_scale_and_tta_side_by_side(scored) -> None:
    markdown = (scored[1] / "protocol.md").read_text()
    heading = "| class | IoU (single-scale) | Dice (single-scale) | IoU (TTA) | Dice (TTA) |"
    assert heading in markdown
    small = "| mean (6 small: person, bike, drone, boat, animal, obstacle) |"
    for row in ("| mean (12 classes) |", "| mean (11, no background) |", small, "| person |"):
        assert row in markdown
    assert "- Protocol input: whole images resized to 64x96 (protocol.size)\n" in markdown
    assert "- Protocol TTA: scales 0.75, 1, each also flipped\n" in markdown
    assert "n/a: the class is absent from both the predictions and the masks" in markdown


def test_native_whole_images_without_tta_agree_with_the_validation_loop(
    checkpoint: Path, data_root: Path, val_ids: list[str], tmp_path: Path
) -> None:
    """The set's images are 96x160, training's val size: fed as stored, they are the same inputs
    the validation loop scores, so both count the same pixels into (nearly) the same matrix."""
    evaluation = run_eval(checkpoint, data_root, tmp_path / "eval", "protocol.size=native", *NO_TTA)
    assert [row.row.prefix for row in evaluation.protocol] == ["single"]
    (single,) = evaluation.protocol
    assert int(single.confusion.sum()) == labelled_pixels(data_root, val_ids)
    scores = single.metrics()
    assert scores["single/iou"] == pytest.approx(evaluation.metrics["val/iou"], abs=1e-3)
    assert "tta/iou" not in read_metrics(tmp_path / "eval" / "protocol.json")
    markdown = (tmp_path / "eval" / "protocol.md").read_text()
    assert "- Protocol input: whole images as stored (native resolution)\n" in markdown


def test_sliding_window_scores_every_labelled_pixel(
    checkpoint: Path, data_root: Path, val_ids: list[str], tmp_path: Path
) -> None:
    tiles = ("protocol.tile.enabled=true", "protocol.tile.size=[64,64]", "protocol.tile.overlap=16")
    evaluation = run_eval(checkpoint, data_root, tmp_path / "eval", *tiles, *NO_TTA)
    (single,) = evaluation.protocol
    assert int(single.confusion.sum()) == labelled_pixels(data_root, val_ids)
    assert single.row.predictor.tiling is not None
    markdown = (tmp_path / "eval" / "protocol.md").read_text()
    assert "- Protocol input: sliding window: 64x64 tiles overlapping 16 px" in markdown


def test_an_earlier_evals_report_is_kept_unless_overwrite(
    checkpoint: Path, data_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    out.mkdir()
    (out / "protocol.json").write_text("{}\n")
    with pytest.raises(ConfigError, match=r"already holds protocol\.json of an earlier eval"):
        run_eval(checkpoint, data_root, out, "protocol.enabled=false")
    assert (out / "protocol.json").read_text() == "{}\n"
    evaluation = run_eval(checkpoint, data_root, out, "protocol.enabled=false", "overwrite=true")
    assert evaluation.protocol == [] and (out / "metrics.json").is_file()
    assert not (out / "protocol.json").exists()  # replaced: no stale report beside the new one


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("protocol.size=huge", "protocol.size=huge must be native, a positive integer or [height"),
        ("protocol.tta.scales=[]", "protocol.tta.scales=[] must be a non-empty list of numbers"),
        ("protocol.tta.hflip=sometimes", "protocol.tta.hflip=sometimes must be true or false"),
        ("protocol.batch_size=0", "protocol.batch_size=0 must be an integer >= 1"),
        ("protocol.enabled=2", "protocol.enabled=2 must be true or false"),
        ("overwrite=maybe", "overwrite=maybe must be true or false"),
        (
            "protocol.tile.overlap=512",
            "protocol.tile.overlap=512 must be smaller than protocol.tile",
        ),
    ],
)
def test_bad_protocol_settings_are_refused_in_one_line(
    override: str, expected: str, checkpoint: Path, tmp_path: Path
) -> None:
    overrides = [f"ckpt_path={checkpoint}", override]
    if override.startswith("protocol.tile"):
        overrides.append("protocol.tile.enabled=true")
    with pytest.raises(ConfigError) as caught:
        check_config(compose_config("eval", *overrides, run_dir=tmp_path / "eval"), "eval")
    message = str(caught.value)
    assert message.startswith(expected) and "\n" not in message, message


def test_the_command_stops_at_start_up_on_a_bad_scale(checkpoint: Path, tmp_path: Path) -> None:
    result = run_command(
        "drone_seg.eval", f"ckpt_path={checkpoint}", f"hydra.run.dir={tmp_path / 'eval'}",
        "protocol.tta.scales=[1.0,0]", expect_ok=False,
    )  # fmt: skip
    assert one_line_error(result).startswith("error: protocol.tta.scales=[1.0,0] must be")
    assert not (tmp_path / "eval").exists()  # no folder left behind, not even an empty log
