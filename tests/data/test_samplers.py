"""Training samplers: rare-class sampling favours rare classes, a function of seed and epoch; with
the class-aware crop and copy-paste on, batches stay a function of seed, epoch and position."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from drone_seg.data.samplers import RareClassSampler, SeededTrainSampler, UnpaddedEvalSampler
from drone_seg.train import train

IMAGES = 100
RARE = (7, 40)  # the only images holding class 5


def counts_table() -> np.ndarray:
    """(images, 12) pixel counts: every image has background and road, two images a boat (5)."""
    counts = np.zeros((IMAGES, 12), dtype=np.int64)
    counts[:, 0], counts[:, 10] = 6000, 4000
    counts[list(RARE), 5] = 30
    return counts


def draws(sampler: SeededTrainSampler, epoch: int = 0) -> list[int]:
    sampler.set_epoch(epoch)
    return [index for index, _ in sampler]


def test_rare_classes_are_drawn_far_more_often_than_uniformly() -> None:
    dataset = list(range(IMAGES))
    rare = RareClassSampler(dataset, counts_table(), seed=3, temperature=0.01)
    assert rare.class_probabilities[5] == rare.class_probabilities.max()
    assert rare.class_probabilities[1] == 0.0  # absent from every image: never drawn
    share = np.isin(draws(rare), RARE).mean()
    uniform = np.isin(draws(SeededTrainSampler(dataset, seed=3)), RARE).mean()
    assert uniform == pytest.approx(len(RARE) / IMAGES)
    assert share > 0.25 > 10 * uniform
    assert len(draws(rare)) == IMAGES  # an epoch is as long as with the uniform sampler


def test_a_high_temperature_spreads_the_draws_over_the_present_classes() -> None:
    sampler = RareClassSampler(list(range(IMAGES)), counts_table(), seed=0, temperature=100.0)
    present = sampler.class_probabilities[[0, 5, 10]]
    np.testing.assert_allclose(present, 1 / 3, atol=0.01)


def test_draws_are_a_function_of_seed_and_epoch_and_split_across_ranks(monkeypatch) -> None:
    def sampler(rank: int = 0, world: int = 1, seed: int = 1) -> RareClassSampler:
        monkeypatch.setattr("drone_seg.data.samplers._world", lambda: (world, rank))
        return RareClassSampler(list(range(IMAGES)), counts_table(), seed=seed, temperature=0.1)

    assert draws(sampler()) == draws(sampler())
    assert draws(sampler(), epoch=1) != draws(sampler(), epoch=0)
    assert draws(sampler(seed=2)) != draws(sampler(seed=1))
    whole = sampler().order()
    ranks = [draws(sampler(rank, world=2)) for rank in (0, 1)]
    assert ranks[0] == whole[0::2] and ranks[1] == whole[1::2]


def test_every_epoch_shuffles_anew_and_visits_each_image_once(monkeypatch) -> None:
    """The uniform sampler's order is a permutation drawn from (seed, epoch): a new one each
    epoch (an order seeded by the seed alone would repeat epoch 0 forever), the same for the
    same pair. Augmentation seeds differ by position and by epoch."""
    monkeypatch.setattr("drone_seg.data.samplers._world", lambda: (1, 0))
    sampler = SeededTrainSampler(list(range(10)), seed=4)
    epochs = [draws(sampler, epoch) for epoch in range(4)]
    assert all(sorted(order) == list(range(10)) for order in epochs)
    assert len({tuple(order) for order in epochs}) == 4
    assert draws(SeededTrainSampler(list(range(10)), seed=4), 2) == epochs[2]
    assert draws(SeededTrainSampler(list(range(10)), seed=5), 0) != epochs[0]
    sampler.set_epoch(0)
    first = [seed for _, seed in sampler]
    sampler.set_epoch(1)
    assert len(set(first)) == 10 and not set(first) & {seed for _, seed in sampler}


def test_augmentation_seeds_are_a_function_of_seed_epoch_and_position(monkeypatch) -> None:
    """Two samplers of the same seed give the same (index, augmentation seed) pairs each epoch,
    and a rank's pair at a position is the single process's pair there: resume and DDP exact."""
    monkeypatch.setattr("drone_seg.data.samplers._world", lambda: (1, 0))

    def items(epoch: int) -> list[tuple[int, int]]:
        sampler = SeededTrainSampler(list(range(6)), seed=9)
        sampler.set_epoch(epoch)
        return list(sampler)

    single = items(3)
    assert single == items(3) and single != items(4)
    for rank in range(2):
        monkeypatch.setattr("drone_seg.data.samplers._world", lambda rank=rank: (2, rank))
        assert items(3) == single[rank::2]


def test_ranks_share_one_padded_permutation(monkeypatch) -> None:
    """Under DDP every rank takes every world-size-th item of one permutation, padded with its
    first items to a multiple of the world size, and the position's augmentation seed."""

    def rank_items(rank: int) -> list[tuple[int, int]]:
        monkeypatch.setattr("drone_seg.data.samplers._world", lambda: (3, rank))
        sampler = SeededTrainSampler(list(range(10)), seed=1)
        sampler.set_epoch(2)
        return list(sampler)

    monkeypatch.setattr("drone_seg.data.samplers._world", lambda: (1, 0))
    single = SeededTrainSampler(list(range(10)), seed=1)
    single.set_epoch(2)
    order = single.order()
    padded = order + order[:2]
    for rank in range(3):
        items = rank_items(rank)
        assert [index for index, _ in items] == padded[rank::3]
        assert len(items) == 4
    seeds = [seed for rank in range(3) for _, seed in rank_items(rank)]
    assert len(set(seeds)) == 12  # a padded repeat is augmented differently from the original


def test_validation_gives_each_image_to_exactly_one_rank_without_padding(monkeypatch) -> None:
    """Rank r of w validates images r, r + w, ...: ten images over three ranks are 4, 3 and 3,
    none repeated (DistributedSampler would pad to 12)."""
    parts = []
    for rank in range(3):
        monkeypatch.setattr("drone_seg.data.samplers._world", lambda rank=rank: (3, rank))
        sampler = UnpaddedEvalSampler(list(range(10)))
        parts.append(list(sampler))
        assert len(sampler) == len(parts[-1])
    assert parts == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    monkeypatch.setattr("drone_seg.data.samplers._world", lambda: (1, 0))
    assert list(UnpaddedEvalSampler(list(range(5)))) == [0, 1, 2, 3, 4]


def test_outside_ddp_the_world_is_one_process() -> None:
    sampler = SeededTrainSampler(list(range(7)), seed=0)
    assert (sampler.num_replicas, sampler.rank, sampler.total_size) == (1, 0, 7)


def test_class_probabilities_follow_the_tempered_pixel_shares() -> None:
    """p_c is proportional to exp((1 - f_c) / T) over the classes some image holds; an image is
    drawn among the holders of the drawn class only."""
    counts = np.zeros((4, 12), dtype=np.int64)
    counts[:, 0] = 60  # background: 240 of 300 pixels, f = 0.8
    counts[[1, 3], 5] = 30  # boat: 60 of 300, f = 0.2
    sampler = RareClassSampler(list(range(4)), counts, seed=0, temperature=0.5)
    weights = np.exp(np.array([0.2, 0.8]) / 0.5)
    np.testing.assert_allclose(sampler.class_probabilities[[0, 5]], weights / weights.sum())
    assert sampler.class_probabilities.sum() == pytest.approx(1.0)
    assert [list(images) for images in sampler.images_of[:1]] == [[0, 1, 2, 3]]
    assert list(sampler.images_of[5]) == [1, 3] and sampler.images_of[2].size == 0
    sampler.set_epoch(0)
    order = sampler.order()
    assert len(order) == 4 and all(isinstance(index, int) for index in order)
    with pytest.raises(ValueError, match=r"^data.rare_class_temperature=0 must be > 0$"):
        RareClassSampler(list(range(4)), counts, seed=0, temperature=0)


def test_a_class_with_a_single_pixel_counts_and_a_tiny_temperature_does_not_overflow() -> None:
    """One labelled pixel makes an image a holder; at temperature 1e-3 (logits up to 1000) the
    probabilities stay finite and all the mass goes to the rarest class."""
    counts = np.zeros((3, 12), dtype=np.int64)
    counts[:, 0] = 500
    counts[2, 7] = 1
    sampler = RareClassSampler(list(range(3)), counts, seed=0, temperature=1e-3)
    assert list(sampler.images_of[7]) == [2]
    assert np.isfinite(sampler.class_probabilities).all()
    assert sampler.class_probabilities[7] == pytest.approx(1.0)


def test_training_with_rare_class_sampling(train_config) -> None:
    cfg = train_config("data.sampler=rare_class", "trainer.fast_dev_run=true")
    assert cfg.data.sampler == "rare_class" and cfg.data.rare_class_temperature > 0
    train(cfg)


RARE_TOOLS = (
    "augment.class_aware_crop.p=0.5",
    "augment.copy_paste.p=0.5",
    "augment.copy_paste.placement=random",
)


def batches(cfg, epochs: int = 2) -> list[dict]:
    """Every training batch of `epochs` epochs of the data module of `cfg`."""
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    out = []
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        out += list(loader)
    return out


def same(first: list[dict], second: list[dict]) -> bool:
    return len(first) == len(second) and all(
        a["image"].numpy().tobytes() == b["image"].numpy().tobytes()
        and a["mask"].numpy().tobytes() == b["mask"].numpy().tobytes()
        and torch.equal(a["index"], b["index"])
        for a, b in zip(first, second, strict=True)
    )


@pytest.mark.parametrize("sampler", ["uniform", "rare_class"])
def test_same_seeds_give_byte_identical_batches_with_the_rare_class_tools(
    train_config, tmp_path, sampler: str
) -> None:
    overrides = (f"data.cache_dir={tmp_path}", f"data.sampler={sampler}", *RARE_TOOLS)
    first = batches(train_config(*overrides))
    assert same(first, batches(train_config(*overrides)))
    assert not same(first, batches(train_config(*overrides, "seed=7")))
    plain = batches(train_config(f"data.cache_dir={tmp_path}", f"data.sampler={sampler}"))
    assert not same(first, plain)


def test_each_rank_gets_the_single_process_samples_of_its_positions(
    train_config, tmp_path, monkeypatch
) -> None:
    cfg = train_config(f"data.cache_dir={tmp_path}", *RARE_TOOLS)
    single = instantiate(cfg.data)
    single.setup("fit")
    keys = list(single.train_dataloader().sampler)
    whole = [single.train_set[key] for key in keys]
    for rank in (0, 1):
        monkeypatch.setattr("drone_seg.data.samplers._world", lambda rank=rank: (2, rank))
        process = instantiate(train_config(f"data.cache_dir={tmp_path}", *RARE_TOOLS).data)
        process.setup("fit")  # each rank's own data module, as in its own process
        rank_keys = list(process.train_dataloader().sampler)
        assert rank_keys == keys[rank::2]
        for key, expected in zip(rank_keys, whole[rank::2], strict=True):
            item = process.train_set[key]
            assert torch.equal(item["image"], expected["image"])
            assert torch.equal(item["mask"], expected["mask"])
