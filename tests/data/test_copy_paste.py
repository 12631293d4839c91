"""Copy-paste of rare-class regions: pastes the donor's own pixels and label, never its ignored
pixels, draws everything from the sample's seed, and trains with the class-aware crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from drone_seg.aeroscapes_layout import TRAIN
from drone_seg.cli import CONFIG_DIR
from drone_seg.data.copy_paste import CopyPaste, paste
from drone_seg.data.dataset import SegmentationDataset
from drone_seg.errors import ConfigError
from drone_seg.runs.checkpoint import RECORD_KEY
from drone_seg.runs.run_dir import RunDir
from drone_seg.train import train

BOAT, ANIMAL, ROAD = 5, 6, 10
HEIGHT, WIDTH = 40, 60


def image_and_mask(seed: int, label: int = ROAD) -> tuple[np.ndarray, np.ndarray]:
    image = np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return image, np.full((HEIGHT, WIDTH), label, np.uint8)


def donors() -> list[tuple[np.ndarray, np.ndarray]]:
    """Sample 0 has no rare class; 1 and 2 hold a boat (2x2 and 3x3 blobs) beside ignored pixels,
    3 holds an animal."""
    samples = [image_and_mask(seed) for seed in range(4)]
    for _, mask in samples[1:3]:
        mask[5:7, 5:7] = BOAT
        mask[20:23, 40:43] = BOAT
        mask[5:7, 7:9] = 255  # ignored pixels beside the boat: never pasted
    samples[3][1][30:35, 10:20] = ANIMAL
    return samples


def counts_of(samples: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    return np.stack([np.bincount(m.ravel(), minlength=256)[:12] for _, m in samples])


def copy_paste(samples, **config) -> CopyPaste:
    settings = {"p": 1.0, "classes": ["boat"], "connected": False, "placement": "same", **config}
    return CopyPaste.from_config(settings, counts_of(samples))


class Recorder:
    """Reads `samples[i]` and remembers which were read."""

    def __init__(self, samples: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.samples, self.read = samples, []

    def __call__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.read.append(index)
        return self.samples[index]


def test_pastes_the_donors_pixels_and_label_where_they_were() -> None:
    samples = donors()
    reader = Recorder(samples)
    image, mask = samples[0]
    before = image.copy(), mask.copy()
    pasted_image, pasted_mask = copy_paste(samples)(0, 7, image, mask, reader)
    donor_image, donor_mask = samples[reader.read[0]]
    boat = donor_mask == BOAT
    assert reader.read[0] in (1, 2) and boat.sum() == 13
    np.testing.assert_array_equal(pasted_mask == BOAT, boat)
    np.testing.assert_array_equal(pasted_image[boat], donor_image[boat])
    np.testing.assert_array_equal(pasted_image[~boat], image[~boat])
    assert (pasted_mask[~boat] == ROAD).all()  # the donor's 255 pixels were not pasted
    np.testing.assert_array_equal(image, before[0])  # the inputs are left as they were
    np.testing.assert_array_equal(mask, before[1])


def test_random_placement_moves_the_region_whole() -> None:
    samples = donors()
    image, mask = samples[0]
    places = set()
    for seed in range(20):
        reader = Recorder(samples)
        pasted_image, pasted_mask = copy_paste(samples, placement="random")(
            0, seed, image, mask, reader
        )
        donor_image, donor_mask = samples[reader.read[0]]
        rows, columns = np.nonzero(pasted_mask == BOAT)
        top, left = rows.min(), columns.min()  # the boat's box is rows 5..22, columns 5..42
        places.add((top, left))
        moved = np.zeros_like(mask, dtype=bool)
        moved[top : top + 18, left : left + 38] = donor_mask[5:23, 5:43] == BOAT
        np.testing.assert_array_equal(pasted_mask == BOAT, moved)  # whole: its box fits
        np.testing.assert_array_equal(pasted_image[moved], donor_image[donor_mask == BOAT])
        np.testing.assert_array_equal(pasted_image[~moved], image[~moved])
    assert len(places) > 5


def test_connected_pastes_one_region_of_the_class() -> None:
    samples = donors()
    image, mask = samples[0]
    paste = copy_paste(samples, connected=True)
    sizes = {int((paste(0, s, image, mask, Recorder(samples))[1] == BOAT).sum()) for s in range(20)}
    assert sizes == {4, 9}


def test_the_donor_is_a_function_of_the_seed_and_never_the_sample_itself() -> None:
    samples = donors()
    paste = copy_paste(samples, classes=["boat", "animal"])

    def donor(index: int, seed: int) -> int:
        reader = Recorder(samples)
        paste(index, seed, *samples[index], reader)
        return reader.read[0]

    assert [donor(0, s) for s in range(30)] == [donor(0, s) for s in range(30)]
    assert {donor(0, s) for s in range(30)} == {1, 2, 3}  # a boat or an animal, from any holder
    assert {donor(1, s) for s in range(30)} == {2, 3}


def test_probability_and_off_switches() -> None:
    samples = donors()
    image, mask = samples[0]
    half = copy_paste(samples, p=0.5)
    pasted = [(half(0, s, image, mask, Recorder(samples))[1] == BOAT).any() for s in range(100)]
    assert 0.35 < np.mean(pasted) < 0.65
    assert CopyPaste.from_config({"p": 0.0, "classes": ["boat"]}, counts_of(samples)) is None
    assert CopyPaste.from_config(None, counts_of(samples)) is None
    nothing = copy_paste(samples, classes=["drone"])  # no image holds a drone
    out = nothing(0, 3, image, mask, Recorder(samples))
    assert out[0] is image and out[1] is mask
    with pytest.raises(ConfigError, match=r"^augment\.copy_paste\.classes=\[boat,ship\]: 'ship'"):
        copy_paste(samples, classes=["boat", "ship"])


def test_synthetic_images_receive_boats_read_from_their_donors(train_config, tmp_path) -> None:
    cfg = train_config(
        f"data.cache_dir={tmp_path / 'cache'}",
        "augment.copy_paste.p=1",
        "augment.copy_paste.classes=[boat]",
    )
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    counts = datamodule.source.stats.counts[datamodule.source.subset == TRAIN]
    plain = datamodule.train_set
    assert plain.copy_paste is not None and plain.copy_paste.p == 1.0
    dataset = SegmentationDataset(plain.root, plain.samples, None, plain.copy_paste)
    lacking = np.flatnonzero(counts[:, BOAT] == 0)[:3]
    holders = [dataset.read(int(i)) for i in np.flatnonzero(counts[:, BOAT])]
    assert lacking.size and holders
    for index in lacking:
        item = dataset[(int(index), 11)]
        image, mask = item["image"].permute(1, 2, 0).numpy(), item["mask"].numpy()
        boat = mask == BOAT
        assert boat.any()
        assert any(
            (d_mask[boat] == BOAT).all() and (d_image[boat] == image[boat]).all()
            for d_image, d_mask in holders
        )
        unseeded = dataset[int(index)]["mask"].numpy()  # no seed (validation): nothing pasted
        np.testing.assert_array_equal(unseeded, dataset.read(int(index))[1])


def test_training_with_class_aware_crops_and_copy_paste(train_config, tmp_path: Path) -> None:
    cfg = train_config(
        "augment.class_aware_crop.p=1",
        "augment.copy_paste.p=1",
        "augment.copy_paste.placement=random",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
    )
    best = train(cfg)
    assert np.isfinite(best["val/dice"])
    record = torch.load(RunDir(Path(cfg.paths.output_dir)).last_checkpoint, weights_only=True)[
        RECORD_KEY
    ]
    assert record["augment"]["copy_paste"]["p"] == 1 and record["data"]["copy_paste"]["p"] == 1
    assert record["augment"]["class_aware_crop"]["p"] == 1


def test_defaults_and_the_donor_count_in_the_log(caplog) -> None:
    """The shipped `placement` (same) and `connected` (off); start-up logs each class's donor
    count, and warns when no training image holds any of the classes."""
    samples = donors()
    caplog.set_level("INFO", logger="drone_seg.data.copy_paste")
    shipped = OmegaConf.load(Path(CONFIG_DIR) / "augment" / "_common.yaml").copy_paste
    config = {**OmegaConf.to_container(shipped), "p": 1, "classes": ["boat", "animal"]}
    tool = CopyPaste.from_config(config, counts_of(samples))
    assert tool is not None
    assert (tool.p, tool.placement, tool.connected) == (1.0, "same", False)
    assert [list(h) for h in tool.holders] == [[1, 2], [3]]
    donors_line = "Copy-paste donors (training images holding each class): boat 2, animal 1"
    assert [record.getMessage() for record in caplog.records] == [donors_line]
    caplog.clear()
    copy_paste(samples, classes=["drone"])
    assert [record.getMessage() for record in caplog.records] == [
        "Copy-paste donors (training images holding each class): drone 0",
        "No training image holds an augment.copy_paste class: nothing is pasted",
    ]


def test_an_image_with_a_single_pixel_of_the_class_is_a_donor() -> None:
    samples = donors()
    samples[0][1][0, 0] = ANIMAL
    tool = copy_paste(samples, classes=["animal"])
    assert [list(h) for h in tool.holders] == [[0, 3]]


def test_paste_cuts_off_what_falls_outside_the_image() -> None:
    """A donor larger than the image: a region placed below the image is not pasted, a random
    placement of a box taller than the image starts at the top and is cut at the bottom."""
    image, mask = np.zeros((6, 6, 3), np.uint8), np.zeros((6, 6), np.uint8)
    donor = np.full((10, 10, 3), 200, np.uint8)
    low = np.zeros((10, 10), bool)
    low[7:10, 1:3] = True
    rng = np.random.default_rng(0)
    assert paste(image, mask, donor, low, BOAT, "same", rng) == (image, mask)
    assert paste(image, mask, donor, np.zeros((10, 10), bool), BOAT, "same", rng) == (image, mask)
    tall = np.zeros((10, 10), bool)
    tall[1:9, 2:4] = True  # 8 rows, 2 columns
    for seed in range(5):
        _, pasted = paste(image, mask, donor, tall, BOAT, "random", np.random.default_rng(seed))
        rows, columns = np.nonzero(pasted == BOAT)
        assert set(rows) == set(range(6)) and columns.max() - columns.min() == 1
    _, same = paste(image, mask, donor, tall, BOAT, "same", rng)
    np.testing.assert_array_equal(np.nonzero(same == BOAT)[0], np.repeat(np.arange(1, 6), 2))


@pytest.mark.parametrize("connected", [False, True])
def test_a_donor_whose_mask_no_longer_holds_the_class_pastes_nothing(connected: bool) -> None:
    """The donors come from the start-up pixel counts, not from the masks read: a donor read
    without the class (counts out of date) leaves the sample as it was, connected regions or not."""
    samples = donors()
    tool = copy_paste(samples, connected=connected)
    stale = [samples[0], image_and_mask(1), image_and_mask(2), samples[3]]  # the boats are gone
    image, mask = samples[0]
    for seed in range(5):
        pasted_image, pasted_mask = tool(0, seed, image, mask, Recorder(stale))
        np.testing.assert_array_equal(pasted_image, image)
        np.testing.assert_array_equal(pasted_mask, mask)


def test_random_placement_reaches_every_place_where_the_box_fits() -> None:
    """A 2x2 box in a 6x6 image has 5 x 5 places; random placement draws each of them, the ones
    touching the bottom and right edges included."""
    image, mask = np.zeros((6, 6, 3), np.uint8), np.zeros((6, 6), np.uint8)
    donor = np.full((6, 6, 3), 200, np.uint8)
    region = np.zeros((6, 6), bool)
    region[3:5, 1:3] = True
    places = set()
    for seed in range(300):
        _, pasted = paste(image, mask, donor, region, BOAT, "random", np.random.default_rng(seed))
        rows, columns = np.nonzero(pasted == BOAT)
        assert rows.size == 4 and np.ptp(rows) == 1 and np.ptp(columns) == 1
        places.add((int(rows.min()), int(columns.min())))
    assert places == {(top, left) for top in range(5) for left in range(5)}


def test_paste_keeps_what_lies_inside_the_image_down_to_one_row_or_column() -> None:
    """A donor larger than the image, its region placed where it was: a region straddling the
    right or bottom edge keeps the part inside (down to one column or row); a region starting at
    the edge pastes nothing and returns the inputs themselves; a box wider than the image placed
    at random starts at the left edge."""
    image, mask = np.zeros((6, 6, 3), np.uint8), np.zeros((6, 6), np.uint8)
    donor = np.full((10, 10, 3), 200, np.uint8)

    def pasted(rows: slice, columns: slice, placement: str = "same", seed: int = 0) -> set:
        region = np.zeros((10, 10), bool)
        region[rows, columns] = True
        rng = np.random.default_rng(seed)
        out_image, out_mask = paste(image, mask, donor, region, BOAT, placement, rng)
        np.testing.assert_array_equal(out_image[..., 0] == 200, out_mask == BOAT)
        return set(zip(*(np.nonzero(out_mask == BOAT)), strict=True))

    assert pasted(slice(1, 3), slice(4, 8)) == {(1, 4), (1, 5), (2, 4), (2, 5)}
    assert pasted(slice(1, 3), slice(5, 8)) == {(1, 5), (2, 5)}
    assert pasted(slice(5, 8), slice(1, 3)) == {(5, 1), (5, 2)}
    for outside in [(slice(6, 8), slice(1, 3)), (slice(1, 3), slice(6, 8))]:
        region = np.zeros((10, 10), bool)
        region[outside] = True
        out = paste(image, mask, donor, region, BOAT, "same", np.random.default_rng(0))
        assert out[0] is image and out[1] is mask
    for seed in range(5):
        wide = pasted(slice(1, 3), slice(1, 9), "random", seed)
        assert {column for _, column in wide} == set(range(6))
