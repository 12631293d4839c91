"""Samplers that make data order and augmentation a pure function of (seed, epoch, position).

That is what lets a resumed run see exactly the batches an uninterrupted one would, and lets DDP
validation count every image exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


def _world() -> tuple[int, int]:
    """(world size, rank) of the initialized process group, or (1, 0) outside DDP."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class SeededTrainSampler(DistributedSampler):
    """Shuffles with a permutation drawn from (seed, epoch) and yields (index, augmentation seed).

    Under DDP each rank takes every world-size-th item of the same permutation, padded so all ranks
    run the same number of steps. Lightning calls `set_epoch` each epoch and keeps this sampler
    because it is a DistributedSampler.
    """

    def __init__(self, dataset: Sized, seed: int) -> None:
        world_size, rank = _world()
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)

    def order(self) -> list[int]:
        """This epoch's image order over all ranks, `total_size` long: a seeded permutation."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.dataset), generator=generator).tolist()
        return order + order[: self.total_size - len(order)]

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        order = self.order()
        for position in range(self.rank, self.total_size, self.num_replicas):
            state = np.random.SeedSequence([self.seed, self.epoch, position]).generate_state(1)
            yield order[position], int(state[0])


class RareClassSampler(SeededTrainSampler):
    """Draws images so that rare classes are seen more often (DAFormer's rare-class sampling).

    Each draw picks a class c with probability proportional to exp((1 - f_c) / temperature), f_c
    being c's share of the labelled training pixels, then an image that holds c, uniformly. A low
    temperature favours the rarest classes; a high one tends to every present class equally. Draws
    are a function of (seed, epoch), the same on every rank, so resuming and DDP stay exact.
    """

    def __init__(self, dataset: Sized, counts: np.ndarray, seed: int, temperature: float) -> None:
        super().__init__(dataset, seed)
        if temperature <= 0:
            raise ValueError(f"data.rare_class_temperature={temperature} must be > 0")
        present = counts > 0
        holders = present.any(axis=0)
        shares = counts.sum(axis=0) / max(1, counts.sum())
        logits = np.where(holders, (1.0 - shares) / temperature, -np.inf)
        weights = np.exp(logits - logits[holders].max())
        self.class_probabilities = weights / weights.sum()
        self.images_of = [np.flatnonzero(present[:, c]) for c in range(counts.shape[1])]

    def order(self) -> list[int]:
        """`total_size` draws: a class by its probability, then an image holding it."""
        rng = np.random.default_rng([self.seed, self.epoch])
        classes = rng.choice(len(self.images_of), size=self.total_size, p=self.class_probabilities)
        return [int(rng.choice(self.images_of[c])) for c in classes]


class UnpaddedEvalSampler(DistributedSampler):
    """Gives rank r the images r, r + world, r + 2 world, ...: every image exactly once.

    DistributedSampler pads the last round with repeated images, which accumulated metrics would
    count twice. Ranks may run one batch more or less; validation makes no per-step collectives.
    """

    def __init__(self, dataset: Sized) -> None:
        world_size, rank = _world()
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=False)
        self.indices = list(range(rank, len(dataset), world_size))
        self.num_samples = len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)
