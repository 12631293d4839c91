"""Mask encodings and layouts: palette PNGs and RGB colour masks decode to the same labels as
class-id PNGs and train; the folder-pairs layout (Kaggle's imgs/imgs + masks/masks) works."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from drone_seg.data.datamodule import DroneDataModule
from drone_seg.train import train

from helpers.config import TINY, compose_config
from helpers.datasets import frame_ids, scene_masks, write_dataset
from helpers.shipped import data_options

IDS = frame_ids(4, 5)
MASKS = scene_masks(4, 5, 48, 64, seed=2)


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 20 images with class-id, palette and RGB colour masks."""
    base = tmp_path_factory.mktemp("encodings")
    return {
        encoding: write_dataset(base / encoding, MASKS, IDS, encoding)
        for encoding in ("ids", "palette", "rgb")
    }


def labels(root: Path, cache_dir: Path, **options) -> tuple[list[str], torch.Tensor]:
    """Ids and stacked masks of the train and val sets (no augmentation)."""
    datamodule = DroneDataModule(
        **data_options(root, cache_dir=str(cache_dir), num_workers=0, **options)
    )
    datamodule.setup("fit")
    items = [*datamodule.train_set, *datamodule.val_set]
    return datamodule.train_ids + datamodule.val_ids, torch.stack([i["mask"] for i in items])


@pytest.mark.parametrize("encoding", ["palette", "rgb"])
def test_encoded_masks_give_the_class_ids(
    roots: dict[str, Path], tmp_path: Path, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    ids, masks = labels(roots["ids"], tmp_path)
    other_ids, other_masks = labels(roots[encoding], tmp_path)
    assert other_ids == ids
    assert torch.equal(other_masks, masks)
    expected = {"palette": "20 palette PNGs", "rgb": "20 RGB colour masks"}[encoding]
    assert f"Masks: {expected}" in caplog.text


def test_folder_pairs_layout_with_an_id_list(roots: dict[str, Path], tmp_path: Path) -> None:
    kaggle = tmp_path / "kaggle"
    write_dataset(kaggle, MASKS, IDS, "ids", images_dir="imgs/imgs", masks_dir="masks/masks")
    (kaggle / "ids.txt").write_text("".join(f"{i}.jpg\n" for i in IDS[:15]))
    ids, masks = labels(
        kaggle, tmp_path, images_dir="imgs/imgs", masks_dir="masks/masks", ids_file="ids.txt"
    )
    reference_ids, reference = labels(roots["ids"], tmp_path, ids_file=None)
    assert sorted(ids) == IDS[:15]
    for image_id, mask in zip(ids, masks, strict=True):
        assert torch.equal(mask, reference[reference_ids.index(image_id)])


def compose_train(root: Path, run_dir: Path, *overrides: str) -> DictConfig:
    """`train.yaml` composed as the command line would, tiny sizes, on `root`."""
    return compose_config(
        "train", *TINY, f"data.root={root}", f"paths.root_dir={run_dir.parent}",
        f"data.cache_dir={run_dir.parent / 'cache'}", "augment.crop_size=[32,32]",
        "augment.val_size=[48,64]", "trainer.fast_dev_run=true", *overrides, run_dir=run_dir,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("encoding", "augment", "split"),
    [("palette", "baseline", "pixels"), ("rgb", "none", "presence")],
)
def test_encoded_datasets_train(
    roots: dict[str, Path], tmp_path: Path, encoding: str, augment: str, split: str
) -> None:
    cfg = compose_train(
        roots[encoding], tmp_path / "run", f"augment={augment}", f"data.split={split}"
    )
    assert train(cfg)["epoch"] == 0  # a batch trained and scored (a debug run writes no split.csv)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    assert len(datamodule.train_ids) + len(datamodule.val_ids) == 20
