"""README's promises checked where users are: one run of the shipped demo (`experiment=demo`, the
default of `python -m drone_seg.train`: 2 persistent loader workers, validation every third epoch
and the last, default callbacks, TensorBoard), smaller only in image count, size and epochs, then
eval, predict and export on it.

docs/guarantees.md maps every promise to its tests; this module is the default-configuration row.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.classes import CLASS_NAMES
from drone_seg.cpu_features import precision_note
from drone_seg.errors import ConfigError, DataError, DroneSegError
from drone_seg.eval import evaluate
from drone_seg.export import export
from drone_seg.predict import predict
from drone_seg.runs.checkpoint import AtomicCheckpointIO, read_record
from drone_seg.runs.run_dir import RunDir, read_metrics
from drone_seg.train import train

from helpers.cli import ONE_THREAD, command, run_command
from helpers.config import SCALED, compose_config

# 4 epochs of the 30 training images in 64x64 crops (28 steps): enough to tell several classes
# apart, so that comparing predictions compares more than one class everywhere.
EPOCHS = 4
# The demo as shipped, smaller: workers, validation schedule, callbacks, logger, progress bar stay.
DEMO = (*SCALED, f"trainer.max_epochs={EPOCHS}")
# 37 of the session's 40 images: 7 val images (val_fraction 0.2), uneven over 2 DDP processes.
DROPPED = 3
# A user's footage for predict: images of the synthetic set, the first carrying an EXIF rotation.
PHOTOS = 3


def start(module: str, *overrides: str, env: dict[str, str], out: Path) -> subprocess.Popen:
    """Start `python -m <module> <overrides>`, its output going to `out`.stdout and .stderr
    (files, not pipes: a full pipe would stop it while the test waits for its files)."""
    with out.with_suffix(".stdout").open("w") as stdout, out.with_suffix(".stderr").open("w") as e:
        return subprocess.Popen(command(module, *overrides), env=env, stdout=stdout, stderr=e)


def finish(process: subprocess.Popen, out: Path) -> subprocess.CompletedProcess:
    """Wait for a process `start` began; its exit code and output."""
    process.wait(timeout=600)
    stdout, stderr = (out.with_suffix(suffix).read_text() for suffix in (".stdout", ".stderr"))
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def files_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: its bytes and modification time."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def exec_target(marker: Path) -> dict:
    """A `_target_` that would create `marker` if anything instantiated it."""
    return {"_target_": "builtins.exec", "_args_": [f"open({str(marker)!r}, 'w').close()"]}


def masks_in(folder: Path) -> dict[str, np.ndarray]:
    """The class-id masks predict wrote into `folder`, by file name."""
    return {
        p.name: np.asarray(Image.open(p))
        for p in sorted(folder.glob("*.png"))
        if not p.stem.endswith("_color")
    }


class Demo:
    """The module's one default run and what the commands made of it."""

    def __init__(self, base: Path, data: Path, env: dict[str, str]) -> None:
        self.base, self.data, self.env = base, data, env
        self.run = RunDir(base / "run")
        self.tagged = sorted((data / "JPEGImages").glob("*.jpg"))[0]
        self.photos = base / "photos"
        self.data_before = files_of(data)
        self.first_last_inode = 0
        self.result: subprocess.CompletedProcess | None = None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Demo:
    """Train the scaled-down demo once through the CLI on a copy of the session's synthetic set
    (37 images, one re-saved with an EXIF rotation); note last.ckpt's inode at epoch 0."""
    base = tmp_path_factory.mktemp("user_defaults")
    data = base / "data"
    shutil.copytree(synthetic_root, data)
    for image in sorted((data / "JPEGImages").glob("*.jpg"))[-DROPPED:]:
        image.unlink()
        (data / "SegmentationClass" / f"{image.stem}.png").unlink()
    for listing in (data / "ImageSets").glob("*.txt"):
        kept = [
            i for i in listing.read_text().split() if (data / "JPEGImages" / f"{i}.jpg").exists()
        ]
        listing.write_text("".join(f"{image_id}\n" for image_id in kept))
    tagged = sorted((data / "JPEGImages").glob("*.jpg"))[0]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to show": 160x96 if the tag were applied
    Image.open(tagged).convert("RGB").save(tagged, quality=95, exif=exif)
    env = {**ONE_THREAD, "DRONE_SEG_CACHE_DIR": str(base / "cache")}
    demo = Demo(base, data, env)
    demo.photos.mkdir()
    for path in sorted((data / "JPEGImages").glob("*.jpg"))[:PHOTOS]:
        shutil.copy(path, demo.photos / path.name)
    args = (f"data.root={data}", f"hydra.run.dir={demo.run.path}", *DEMO)
    process = start("drone_seg.train", *args, env=env, out=base / "train")
    last = demo.run.last_checkpoint
    while process.poll() is None and not demo.first_last_inode:
        if last.exists():
            demo.first_last_inode = last.stat().st_ino
        time.sleep(0.005)
    demo.result = finish(process, base / "train")
    assert demo.result.returncode == 0, demo.result.stderr[-3000:]
    return demo


def test_the_run_folder_holds_what_readme_lists(demo: Demo) -> None:
    run = demo.run
    for name in (".hydra/config.yaml", ".hydra/overrides.yaml", "train.log", "split.csv",
                 "split_report.md", "metrics.json", f"images/epoch_{EPOCHS - 1:03d}_confusion.png",
                 f"images/epoch_{EPOCHS - 1:03d}_predictions.png"):  # fmt: skip
        assert (run.path / name).is_file(), name
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["best.ckpt", "last.ckpt"]
    assert list(run.tensorboard.glob("events.out.tfevents.*"))
    assert demo.result is not None
    assert "| person |" in demo.result.stdout and "mean (12 classes)" in demo.result.stdout
    assert demo.result.stdout.rstrip().endswith(f"Run directory: {run.path}")


def test_tensorboard_holds_losses_dice_per_class_and_learning_rates(demo: Demo) -> None:
    events = EventAccumulator(str(demo.run.tensorboard)).Reload()
    tags = set(events.Tags()["scalars"])
    per_class = {
        f"val/{s}_{n}" for s in ("dice", "iou", "precision", "recall") for n in CLASS_NAMES
    }
    assert {"train/loss_step", "train/loss_epoch", "val/loss", "val/dice"} | per_class <= tags
    assert len([tag for tag in tags if tag.startswith("lr-")]) == 3  # one per parameter group


def test_the_one_cycle_schedule_spans_exactly_the_runs_optimizer_steps(demo: Demo) -> None:
    """Planned from the trainer (epochs x batches per epoch) before the loader workers start."""
    last = torch.load(demo.run.last_checkpoint, weights_only=True)
    steps = EPOCHS * (30 // 4)  # 30 training images in batches of 4, the last partial one dropped
    assert last["global_step"] == steps
    assert last["lr_schedulers"][0]["total_steps"] == steps


def test_the_train_log_holds_the_outcome_and_one_orientation_warning(demo: Demo) -> None:
    """Loader workers read the tagged image too: the warning still comes once, from the scan. The
    log names the CPU path the demo takes (float32, channels_last)."""
    log = (demo.run.path / "train.log").read_text()
    assert "| person |" in log and "mean (12 classes)" in log and "Best validation epoch" in log
    assert log.rstrip().endswith(f"Run directory: {demo.run.path}")
    assert precision_note("32", channels_last=True) in log  # the demo's CPU path, and why
    assert demo.result is not None
    for text in (log, demo.result.stdout + demo.result.stderr):
        warnings = [line for line in text.splitlines() if "EXIF orientation tag" in line]
        assert len(warnings) == 1 and "1 files carry" in warnings[0], warnings
        assert str(demo.tagged) in warnings[0]


def test_metrics_json_is_strict_and_is_the_best_checkpoints_epoch(demo: Demo) -> None:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    raw = json.loads(demo.run.metrics.read_text(), parse_constant=refuse)
    metrics = read_metrics(demo.run.metrics)
    dice = [metrics[f"val/dice_{name}"] for name in CLASS_NAMES]
    assert metrics["val/dice"] == pytest.approx(float(np.nanmean(dice)), abs=1e-6)
    assert metrics["val/dice_fg"] == pytest.approx(float(np.nanmean(dice[1:])), abs=1e-6)
    for name, value in zip(CLASS_NAMES, dice, strict=True):  # undefined: null, read back as NaN
        assert (raw[f"val/dice_{name}"] is None) == math.isnan(value), name
    best = torch.load(demo.run.best_checkpoint, weights_only=True)
    assert best["epoch"] == metrics["epoch"]
    scores = [s["best_model_score"] for k, s in best["callbacks"].items() if "'val/dice'" in k]
    assert len(scores) == 1 and float(scores[0]) == pytest.approx(metrics["val/dice"], abs=1e-6)


def test_every_checkpoint_is_plain_data_and_describes_its_run(demo: Demo) -> None:
    rows = [line.split(",") for line in demo.run.split.read_text().splitlines()[1:]]
    split = {subset: [image for image, s in rows if s == subset] for subset in ("train", "val")}
    assert len(split["val"]) == 7 and len(split["train"]) == 30  # 37 images, val_fraction 0.2
    for path in (demo.run.best_checkpoint, demo.run.last_checkpoint):
        torch.load(path, weights_only=True)  # tensors and plain data only
        _, record = read_record(path)
        assert record.classes == tuple(CLASS_NAMES) and record.val_size == (96, 160)
        assert record.data["root"] == str(demo.data.resolve())
        assert sorted(record.split_train) == sorted(split["train"])
        assert sorted(record.split_val) == sorted(split["val"])
    assert torch.load(demo.run.last_checkpoint, weights_only=True)["epoch"] == EPOCHS - 1


def test_last_checkpoint_is_replaced_by_a_new_file_not_rewritten_in_place(demo: Demo) -> None:
    """Epoch 0's last.ckpt is replaced whole (written beside it, renamed over it) at epoch 1."""
    assert demo.first_last_inode != 0
    assert demo.run.last_checkpoint.stat().st_ino != demo.first_last_inode


def test_the_data_folder_is_only_read_and_the_statistics_go_to_the_cache(demo: Demo) -> None:
    assert files_of(demo.data) == demo.data_before
    assert any(path.is_file() for path in (demo.base / "cache").rglob("*"))


@pytest.fixture(scope="module")
def received(demo: Demo) -> Path:
    """The run folder as someone else receives it: copied elsewhere, its .hydra/config.yaml
    crafted to run code; its best.ckpt evaluated with eval's defaults."""
    base = demo.base
    copy = RunDir(base / "received" / "run")
    shutil.copytree(demo.run.path, copy.path)
    copy.config.write_text(
        "data:\n  _target_: builtins.exec\n"
        f"  _args_: [\"open({str(base / 'config-ran')!r}, 'w').close()\"]\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRONE_SEG_CACHE_DIR", demo.env["DRONE_SEG_CACHE_DIR"])
        evaluate(compose_config("eval", f"ckpt_path={copy.best_checkpoint}", run_dir=base / "eval"))
    return copy.path


@pytest.mark.slow  # DDP is a trainer preset, not the default (make test-all)
def test_validation_under_ddp_scores_every_val_image_once(demo: Demo) -> None:
    """eval with trainer=ddp_cpu (2 processes, the run's 2 loader workers each) on 7 val images:
    padding one image twice, as DistributedSampler does, would change the scores."""
    out = demo.base / "eval-ddp"
    run_command(
        "drone_seg.eval", f"ckpt_path={demo.run.best_checkpoint}", "trainer=ddp_cpu",
        f"hydra.run.dir={out}", env=demo.env,
    )  # fmt: skip
    logged, scored = demo.run.read_metrics(), read_metrics(out / "metrics.json")
    assert "Images: 7 val images" in (out / "metrics.md").read_text()
    for key, value in logged.items():
        if key.startswith("val/"):
            assert scored[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key


def predict_here(demo: Demo, checkpoint: Path, name: str) -> dict[str, np.ndarray]:
    """predict's defaults on the photos, in this process (as the command runs it): the masks."""
    output = demo.base / name
    predict(compose_config("predict", f"ckpt_path={checkpoint}", f"input={demo.photos}",
                           f"output={output}", run_dir=demo.base / f"predict-{name}"))  # fmt: skip
    return masks_in(output)


def test_eval_of_a_received_checkpoint_scores_what_training_logged(demo: Demo, received) -> None:
    logged = demo.run.read_metrics()
    scored = read_metrics(demo.base / "eval" / "metrics.json")
    expected = {key: value for key, value in logged.items() if key.startswith("val/")}
    assert scored.keys() == expected.keys()
    for key, value in expected.items():
        assert scored[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    for name in ("metrics.csv", "metrics.md", "confusion_matrix.png"):
        assert (demo.base / "eval" / name).is_file(), name
    assert not (demo.base / "config-ran").exists()  # the crafted .hydra/config.yaml was not read


@pytest.fixture(scope="module")
def original(demo: Demo) -> dict[str, np.ndarray]:
    """predict's masks of the photos with best.ckpt in its own run folder."""
    return predict_here(demo, demo.run.best_checkpoint, "original")


def test_a_received_checkpoint_predicts_the_pixels_of_the_original(
    demo: Demo, received: Path, original: dict[str, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    """At the stored size, EXIF tag ignored: the tagged 96x160 photo is not predicted as 160x96."""
    with caplog.at_level(logging.INFO):
        copy = predict_here(demo, RunDir(received).best_checkpoint, "copy")
    assert "resized to 96x160" in caplog.text  # the run's val size, carried by the checkpoint
    assert sorted(original) == sorted(f"{p.stem}.png" for p in demo.photos.iterdir())
    assert len(original) == PHOTOS and original.keys() == copy.keys()
    for name, mask in original.items():
        assert mask.shape == (96, 160) and mask.max() < len(CLASS_NAMES), name
        np.testing.assert_array_equal(mask, copy[name], err_msg=name)
        for suffix in ("_color.png", "_overlay.jpg"):
            assert (demo.base / "copy" / f"{Path(name).stem}{suffix}").is_file()
    assert len(np.unique(np.concatenate([m.ravel() for m in original.values()]))) >= 2
    assert not (demo.base / "config-ran").exists()


def test_predict_refuses_to_write_into_its_input_and_changes_nothing(demo: Demo) -> None:
    before = files_of(demo.photos)
    config = compose_config(
        "predict", f"ckpt_path={demo.run.best_checkpoint}", f"input={demo.photos}",
        f"output={demo.photos}", "overwrite=true", run_dir=demo.base / "predict-refused",
    )  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        predict(config)
    assert "\n" not in str(refused.value) and str(demo.photos) in str(refused.value)
    assert files_of(demo.photos) == before


def test_the_onnx_export_checks_itself_and_predicts_as_the_checkpoint(
    demo: Demo, original: dict[str, np.ndarray]
) -> None:
    out = demo.base / "export"
    exported = export(
        compose_config("export", f"ckpt_path={demo.run.best_checkpoint}", run_dir=out)
    )
    assert exported.path == out / "model.onnx" and exported.path.is_file()
    assert exported.max_difference <= 1e-4
    onnx = predict_here(demo, exported.path, "onnx")
    assert onnx.keys() == original.keys() and len(original) == PHOTOS
    same = sum(int((onnx[name] == original[name]).sum()) for name in original)
    assert same / sum(mask.size for mask in original.values()) >= 0.999


def test_resuming_a_checkpoint_naming_an_unknown_class_runs_nothing(demo: Demo) -> None:
    """The default callbacks and logger are rebuilt from the record on resume: allowlisted only."""
    marker = demo.base / "callback-ran"
    checkpoint = torch.load(demo.run.last_checkpoint, weights_only=True)
    checkpoint["drone_seg"]["config"]["callbacks"]["evil"] = exec_target(marker)
    crafted = RunDir(demo.base / "crafted").last_checkpoint
    crafted.parent.mkdir(parents=True)
    torch.save(checkpoint, crafted)
    config = compose_config(
        "train",
        f"ckpt_path={crafted}",
        f"trainer.max_epochs={EPOCHS + 1}",
        run_dir=crafted.parent.parent,
    )
    with pytest.raises(DroneSegError) as refused:
        train(config)
    message = str(refused.value)
    assert "\n" not in message and f"ckpt_path={crafted}" in message
    assert "'builtins.exec'" in message and not marker.exists()


@pytest.fixture(scope="module")
def broken(demo: Demo) -> Path:
    """A copy of the run's data whose sixth image is cut in half (a truncated JPEG)."""
    data = demo.base / "broken"
    shutil.copytree(demo.data, data)
    bad = sorted((data / "JPEGImages").glob("*.jpg"))[5]
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    return bad


@pytest.fixture
def user_cache(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands use the module's statistics cache, as its subprocesses do."""
    monkeypatch.setenv("DRONE_SEG_CACHE_DIR", demo.env["DRONE_SEG_CACHE_DIR"])


def test_resuming_with_another_experiment_is_refused_and_changes_nothing(demo: Demo) -> None:
    run = RunDir(demo.base / "resume-refused")
    shutil.copytree(demo.run.path, run.path)
    before = files_of(run.path)
    config = compose_config(
        "train", f"ckpt_path={run.last_checkpoint}", "experiment=baseline", run_dir=run.path
    )
    with pytest.raises(ConfigError) as refused:
        train(config)
    assert str(refused.value).startswith("experiment=baseline with ckpt_path=")
    assert "\n" not in str(refused.value) and files_of(run.path) == before


def test_a_truncated_jpeg_stops_the_demo_before_its_first_step(
    demo: Demo, broken: Path, user_cache: None, capfd: pytest.CaptureFixture[str]
) -> None:
    run_dir = demo.base / "broken-run"
    config = compose_config("train", f"data.root={broken.parent.parent}", *DEMO, run_dir=run_dir)
    with pytest.raises(DataError) as refused:
        train(config)
    assert "\n" not in str(refused.value) and str(broken) in str(refused.value)
    assert "Premature end" not in capfd.readouterr().err  # libjpeg's note is not shown
    assert not list(run_dir.rglob("*.ckpt"))


def test_eval_refuses_a_truncated_jpeg_naming_it(demo: Demo, broken: Path, user_cache) -> None:
    out = demo.base / "broken-eval"
    config = compose_config(
        "eval",
        f"ckpt_path={demo.run.best_checkpoint}",
        f"data.root={broken.parent.parent}",
        run_dir=out,
    )
    with pytest.raises(DataError) as refused:
        evaluate(config)
    assert "\n" not in str(refused.value) and str(broken) in str(refused.value)
    assert not (out / "metrics.json").exists()


def test_predict_skips_a_truncated_jpeg_naming_it_and_predicts_the_others(
    demo: Demo, broken: Path, caplog: pytest.LogCaptureFixture
) -> None:
    photos = demo.base / "broken-photos"
    photos.mkdir()
    for path in (broken, *sorted(demo.photos.iterdir())):
        shutil.copy(path, photos / path.name)
    output = demo.base / "broken-predictions"
    config = compose_config(
        "predict", f"ckpt_path={demo.run.best_checkpoint}",
        f"input={photos}", f"output={output}", run_dir=demo.base / "predict-broken",
    )  # fmt: skip
    result = predict(config)
    assert result.predicted == PHOTOS and [p.name for p in result.skipped] == [broken.name]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(broken.name in message for message in warnings), warnings
    assert sorted(masks_in(output)) == sorted(f"{p.stem}.png" for p in demo.photos.iterdir())


def test_a_longer_run_resumed_in_its_folder_replans_and_continues_its_records(demo: Demo) -> None:
    """`ckpt_path=<run>/checkpoints/last.ckpt trainer.max_epochs=5` on a finished 4-epoch run:
    the 1-cycle schedule re-planned, one TensorBoard run, best epoch among those validated."""
    extended = RunDir(demo.base / "extended" / "run")
    shutil.copytree(demo.run.path, extended.path)
    config = extended.config.read_bytes()
    result = run_command(
        "drone_seg.train", f"ckpt_path={extended.last_checkpoint}",
        f"trainer.max_epochs={EPOCHS + 1}", env=demo.env,
    )  # fmt: skip
    steps, longer = EPOCHS * 7, (EPOCHS + 1) * 7  # 7 batches of 4 of the 30 training images
    replanned = f"Re-planned the 1-cycle schedule from {steps} to {longer}"
    assert replanned in result.stdout + result.stderr
    assert replanned in (extended.path / "train.log").read_text()
    last = torch.load(extended.last_checkpoint, weights_only=True)
    assert last["epoch"] == EPOCHS and last["global_step"] == longer
    assert last["lr_schedulers"][0]["total_steps"] == longer
    assert [p.name for p in extended.path.iterdir() if "tensorboard" in p.name] == ["tensorboard"]
    events = EventAccumulator(str(extended.tensorboard), size_guidance={"scalars": 0}).Reload()
    epochs = {e.step: int(e.value) for e in events.Scalars("epoch")}
    dice = {epochs[e.step]: e.value for e in events.Scalars("val/dice")}
    # The demo validates every third epoch and the last: of the 4-epoch run, then of its extension.
    assert sorted(dice) == [2, EPOCHS - 1, EPOCHS]
    metrics = extended.read_metrics()
    assert metrics["val/dice"] == pytest.approx(max(dice.values()), abs=1e-6)
    assert torch.load(extended.best_checkpoint, weights_only=True)["epoch"] == metrics["epoch"]
    assert extended.config.read_bytes() == config  # the run's own record is kept
    assert list((extended.path / ".hydra").glob("resume-*/config.yaml"))


def test_a_checkpoint_write_killed_half_way_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    """The writer train uses (AtomicCheckpointIO), SIGKILLed in the middle of torch.save."""
    last = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 0, "w": torch.arange(5.0)}, last)
    before = last.read_bytes()
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:  # write 4 MB of a new checkpoint, say so, wait to be killed
        try:

            def half_save(obj: object, file) -> None:
                file.write(b"x" * 4_000_000)
                file.flush()
                os.write(writable, b"w")
                time.sleep(600)

            torch.save = half_save
            AtomicCheckpointIO().save_checkpoint({"epoch": 1}, last)
        finally:
            os._exit(1)
    assert os.read(readable, 1) == b"w"
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    assert last.read_bytes() == before
    assert AtomicCheckpointIO().load_checkpoint(last)["epoch"] == 0
    half = [p for p in last.parent.iterdir() if p != last]
    assert [p.stat().st_size for p in half] == [4_000_000]  # the new file was written beside it
