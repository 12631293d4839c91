"""Materials: how a surface looks and which class it belongs to; every frame is rasterised as
indices into one sequence's material table, so image and mask come from the same map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drone_seg.classes import CLASS_NAMES

# Class ids looked up by name, so the masks follow `drone_seg.classes` whatever its order.
CLASS_ID = {name: index for index, name in enumerate(CLASS_NAMES)}
BACKGROUND, PERSON, BIKE = CLASS_ID["background"], CLASS_ID["person"], CLASS_ID["bike"]
CAR, DRONE, BOAT = CLASS_ID["car"], CLASS_ID["drone"], CLASS_ID["boat"]
ANIMAL, OBSTACLE, CONSTRUCTION = CLASS_ID["animal"], CLASS_ID["obstacle"], CLASS_ID["construction"]
VEGETATION, ROAD, SKY = CLASS_ID["vegetation"], CLASS_ID["road"], CLASS_ID["sky"]

SKY_MATERIAL = 0  # the first material of every sequence
CROWN_CONTRAST = 0.2  # texture amplitude of tree crowns on canopy materials
PLAIN, ROWS, WATER, CANOPY = range(4)


@dataclass(frozen=True)
class Material:
    """How a surface looks (colour, texture, pattern) and which class it belongs to."""

    colour: tuple[float, float, float]
    class_id: int
    alt: tuple[float, float, float]  # second colour, blended in by broad noise
    texture: float  # amplitude of metre-scale noise
    grain: float  # amplitude of fine noise
    pattern: int
    angle: float  # ROWS: direction of the rows
    period: float  # ROWS: spacing of the rows (metres)
    strength: float  # ROWS: contrast of the rows
    terrain: bool  # hazed by distance per pixel (objects get their haze when created)


@dataclass(frozen=True)
class Palette:
    """A material table as arrays, indexed by the per-pixel material map."""

    colour: np.ndarray  # (M, 3)
    shift: np.ndarray  # (M, 3) second colour minus first
    class_id: np.ndarray  # (M,) uint8
    gains: np.ndarray  # (M, 4) amplitudes of clumps, grain, tree crowns and rows
    rows: np.ndarray  # (M, 3) row wave vector (cycles per metre along x, y) and its length
    water: np.ndarray  # (M,) bool
    terrain: np.ndarray  # (M,) bool


class MaterialTable:
    """The materials of one sequence; frames are rasterised as indices into this list."""

    def __init__(self) -> None:
        self._materials: list[Material] = []
        self._ids: dict[Material, int] = {}
        self.add((0, 0, 0), SKY, texture=0.0, grain=0.0)  # SKY_MATERIAL: coloured per pixel

    def add(
        self,
        colour: Sequence[float],
        class_id: int,
        *,
        alt: Sequence[float] | None = None,
        texture: float = 0.04,
        grain: float = 0.03,
        pattern: int = PLAIN,
        angle: float = 0.0,
        period: float = 1.0,
        strength: float = 0.0,
        terrain: bool = False,
    ) -> int:
        """Register a material (identical ones are shared) and return its index."""
        rgb = tuple(round(float(c), 1) for c in colour)
        alt_rgb = rgb if alt is None else tuple(round(float(c), 1) for c in alt)
        material = Material(
            rgb, class_id, alt_rgb, texture, grain, pattern, angle, period, strength, terrain
        )
        if material not in self._ids:
            self._ids[material] = len(self._materials)
            self._materials.append(material)
        return self._ids[material]

    def class_ids(self) -> np.ndarray:
        """Class id of every material so far."""
        return np.array([m.class_id for m in self._materials], np.uint8)

    def palette(self) -> Palette:
        """Freeze the table into arrays."""
        materials = self._materials
        colour = np.array([m.colour for m in materials], np.float32)
        frequency = np.array([(m.pattern == ROWS) / m.period for m in materials])
        angle = np.array([m.angle for m in materials])
        gains = [
            (m.texture, m.grain, CROWN_CONTRAST * (m.pattern == CANOPY), m.strength)
            for m in materials
        ]
        rows = [frequency * np.cos(angle), frequency * np.sin(angle), frequency]
        return Palette(
            colour=colour,
            shift=np.array([m.alt for m in materials], np.float32) - colour,
            class_id=np.array([m.class_id for m in materials], np.uint8),
            gains=np.array(gains, np.float32),
            rows=np.stack(rows, 1).astype(np.float32),
            water=np.array([m.pattern == WATER for m in materials]),
            terrain=np.array([m.terrain for m in materials]),
        )
