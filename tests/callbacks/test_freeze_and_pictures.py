"""Backbone freezing, and the validation pictures (PNG files and TensorBoard), through real
training runs."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.train import train

from helpers.snapshots import SNAPSHOT_CALLBACK, SNAPSHOTS, changed

PICTURES = ("confusion", "predictions")


def test_the_demo_draws_pictures_at_validated_epochs_before_the_last(train_config) -> None:
    """Pictures are drawn at validation: the demo's picture epochs are ones it validates."""
    cfg = train_config()
    epochs, last = range(1, cfg.trainer.max_epochs + 1), cfg.trainer.max_epochs
    validated = {e for e in epochs if e % cfg.trainer.check_val_every_n_epoch == 0} | {last}
    drawn = {e for e in epochs if e % cfg.callbacks.images.every_n_epochs == 0} | {last}
    assert cfg.trainer.check_val_every_n_epoch > 1 and drawn <= validated and len(drawn) >= 3


def test_backbone_frozen_first_epoch_then_trained(train_config) -> None:
    cfg = train_config(
        "callbacks.freeze_backbone.epochs=1",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
        SNAPSHOT_CALLBACK,
    )
    train(cfg)
    start, first, second = SNAPSHOTS["start"], SNAPSHOTS["epoch0"], SNAPSHOTS["epoch1"]
    assert not changed(start, first, "backbone."), "weights and BatchNorm statistics stay put"
    assert changed(start, first, "classifier.")
    trained = changed(first, second, "backbone.")
    assert any(k.endswith("running_mean") for k in trained)
    assert any(k.endswith(".weight") for k in trained)


def test_confusion_matrix_and_predictions_are_png_files_and_reach_tensorboard(train_config) -> None:
    cfg = train_config(
        "callbacks.images.every_n_epochs=2", "trainer.max_epochs=3",
        "trainer.limit_train_batches=2",
        "trainer.check_val_every_n_epoch=1",  # pictures count validated epochs: one each epoch
    )  # fmt: skip
    train(cfg)
    run = Path(cfg.paths.output_dir)
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    images = {tag: events.Images(tag) for tag in events.Tags()["images"]}
    assert images.keys() == {"val/confusion_matrix", "val/predictions"}
    assert [len(logged) for logged in images.values()] == [2, 2], "every 2nd epoch, and the last"
    grid = images["val/predictions"][-1]
    assert grid.width == 3 * 160 and grid.height > 4 * 96  # 4 rows of 3 panels, and a legend
    files = sorted(file.name for file in (run / "images").iterdir())
    assert files == [f"epoch_00{epoch}_{name}.png" for epoch in (1, 2) for name in PICTURES]
    with Image.open(run / "images" / "epoch_002_predictions.png") as saved:
        assert saved.size == (grid.width, grid.height)  # the picture TensorBoard holds
