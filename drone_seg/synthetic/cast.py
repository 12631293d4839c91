"""How long each flight is and which classes it shows: flight lengths drawn from AeroScapes' 141
flights, and each class allotted to whole flights so that the share of frames holding it follows a
target mix (AeroScapes' by default) at any dataset size, not only on average."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from drone_seg.aeroscapes_reference import AEROSCAPES, APART, FLIGHT_LENGTHS
from drone_seg.errors import ConfigError

# The classes a flight is given or denied, in allotment order: rarest first (the flights a rare
# class takes are then barred to the classes AeroScapes never shows with it, `APART`), and a
# class that needs another before it (cars drive on roads: the road's allotment counts them).
CAST_CLASSES: tuple[str, ...] = (
    "boat",
    "animal",
    "drone",
    "sky",
    "bike",
    "car",
    "road",
    "construction",
    "obstacle",
    "person",
)
NEEDS: Mapping[str, str] = MappingProxyType({"car": "road"})
AEROSCAPES_MIX: Mapping[str, float] = MappingProxyType(
    {name: AEROSCAPES[name].image_share / 100 for name in CAST_CLASSES}
)
# Share of a flight's frames in which a class it was given is seen (measured on renders): the
# allotment aims at target / SEEN so that the share of frames showing the class meets the target.
SEEN: Mapping[str, float] = MappingProxyType({"car": 0.85, "road": 0.95, "construction": 0.8})


def class_mix(overrides: Mapping[str, float] | None) -> dict[str, float]:
    """AeroScapes' mix with some classes' shares replaced; an unknown class or a share outside
    0..1 is refused, naming the key."""
    mix = dict(AEROSCAPES_MIX)
    for name, share in (overrides or {}).items():
        if name not in mix:
            raise ConfigError(f"class_mix.{name}: not one of {', '.join(CAST_CLASSES)}")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ConfigError(f"class_mix.{name}={share!r}: expected a share from 0 to 1")
        mix[name] = float(share)
    return mix


def flight_lengths(num_images: int, rng: np.random.Generator) -> list[int]:
    """Frame counts drawn from AeroScapes' flights until they hold `num_images` (the last cut)."""
    lengths: list[int] = []
    while sum(lengths) < num_images:
        lengths.append(int(rng.choice(FLIGHT_LENGTHS)))
    lengths[-1] -= sum(lengths) - num_images
    return lengths


def fill(lengths: Sequence[int], target: float, chosen: set[int], order: Sequence[int]) -> set[int]:
    """Add to `chosen` each flight of `order` that fits in what is left of `target`, then the best
    fit of the rest while it brings the total nearer the target."""
    chosen, held = set(chosen), sum(lengths[i] for i in chosen)
    for i in order:
        if lengths[i] <= target - held:
            chosen.add(i)
            held += lengths[i]
    rest = [i for i in order if i not in chosen]
    while rest:
        best = min(rest, key=lambda i: abs(target - held - lengths[i]))
        if abs(target - held - lengths[best]) >= abs(target - held):
            break
        chosen.add(best)
        held += lengths[best]
        rest.remove(best)
    return chosen


def allot(
    lengths: Sequence[int],
    target: float,
    given: set[int],
    barred: set[int],
    rng: np.random.Generator,
    tries: int = 16,
) -> set[int]:
    """Flights (indices) that hold about `target` frames: the `given` ones and some not `barred`,
    the nearest of `tries` random fills (see `fill`), so that a class lands within a frame or
    two of its target whatever the flights' lengths."""
    free = [i for i in range(len(lengths)) if i not in given | barred]
    fills = [fill(lengths, target, given, rng.permutation(free).tolist()) for _ in range(tries)]
    return min(fills, key=lambda chosen: abs(target - sum(lengths[i] for i in chosen)))


def cast_flights(
    lengths: Sequence[int], mix: Mapping[str, float], rng: np.random.Generator
) -> list[frozenset[str]]:
    """The classes each flight shows, allotted class by class (see `allot`)."""
    total = sum(lengths)
    holders: dict[str, set[int]] = {}
    for name in CAST_CLASSES:
        given = {i for needer, need in NEEDS.items() if need == name for i in holders[needer]}
        barred = set().union(*(held for other, held in holders.items() if {name, other} in APART))
        target = min(1.0, mix[name] / SEEN.get(name, 1.0)) * total
        holders[name] = allot(lengths, target, given, barred, rng)
    return [frozenset(n for n in CAST_CLASSES if i in holders[n]) for i in range(len(lengths))]
