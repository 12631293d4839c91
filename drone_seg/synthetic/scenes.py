"""Scene recipes (urban, park, rural, coast), the plan of each sequence, and composing its
world."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drone_seg.synthetic.builder import (
    S_BARE,
    S_GREEN,
    S_SHORE,
    S_SIDEWALK,
    WALKABLE,
    Builder,
    view_regions,
)
from drone_seg.synthetic.camera import NADIR, OBLIQUE, nadir_cameras, oblique_cameras
from drone_seg.synthetic.light import make_look, make_sun
from drone_seg.synthetic.materials import ROAD, MaterialTable
from drone_seg.synthetic.noise import make_tiles
from drone_seg.synthetic.placement import (
    add_animals,
    add_backdrop,
    add_bikes,
    add_boats,
    add_buildings,
    add_drones,
    add_obstacles,
    add_people,
    add_poles_along_roads,
    add_street_trees,
    add_traffic,
    add_trees,
)
from drone_seg.synthetic.sampling import uniform
from drone_seg.synthetic.shapes import heading_vector
from drone_seg.synthetic.terrain import (
    ASPHALT,
    GRAVEL,
    PAVING,
    add_crossing,
    add_fields,
    add_parking_lot,
    add_road,
    asphalt,
    bare,
    make_ground,
    paint_material,
    road_overlays,
    terrain,
)
from drone_seg.synthetic.world import World

OBLIQUE_SHARE = 0.6
SCENE_KINDS = ("urban", "park", "rural", "coast")
SCENE_WEIGHTS = (0.3, 0.27, 0.23, 0.2)


def near_point(b: Builder) -> np.ndarray:
    """A random point in the near region (roads are laid through such points)."""
    return b.sample(b.regions.near, 1)[0]


def build_urban(b: Builder) -> None:
    """Streets in a grid with pavements, buildings, traffic, people, bikes and street furniture."""
    angle, spacing = uniform(b.rng, 0, np.pi), uniform(b.rng, 45, 80)
    origin = near_point(b)
    kerb, paint = bare(b, PAVING), paint_material(b)
    for family in (0, 1):
        direction = angle + family * np.pi / 2
        normal = heading_vector(direction + np.pi / 2)
        for k in range(-4, 5):
            width = uniform(b.rng, 7, 10)
            sidewalk = uniform(b.rng, 2, 3.5)
            add_road(
                b,
                origin + normal * spacing * k,
                direction,
                width,
                asphalt(b),
                sidewalk,
                kerb,
                paint,
            )
    add_crossing(b)
    add_boats(b, int(b.rng.integers(1, 4)))
    if b.rng.random() < 0.4:
        add_parking_lot(b)
    add_buildings(b, int(b.rng.integers(8, 30)), True, (4.0, 14.0))
    add_street_trees(b, 0.5)
    add_poles_along_roads(b, uniform(b.rng, 14, 28))
    add_traffic(b, int(b.rng.integers(3, 10)), 0.3)
    add_people(b, int(b.rng.integers(1, 5)), (1, 4))
    add_bikes(b, int(b.rng.integers(1, 5)), 0.45)
    if b.rng.random() < 0.5:
        add_animals(b, int(b.rng.integers(1, 4)), (1, 2), ("dog",), WALKABLE)
    add_obstacles(b, int(b.rng.integers(0, 4)), ("barrier", "cone"))


def build_park(b: Builder) -> None:
    """Lawns with paths, trees, a pond with boats, people, bikes, dogs or grazing animals."""
    path = terrain(b, GRAVEL if b.rng.random() < 0.5 else ASPHALT, ROAD, texture=0.06, grain=0.12)
    for _ in range(int(b.rng.integers(1, 4))):
        add_road(b, near_point(b), uniform(b.rng, 0, np.pi), uniform(b.rng, 2.5, 4.0), path)
    if b.rng.random() < 0.5:
        add_road(
            b,
            b.sample(b.regions.middle, 1)[0],
            uniform(b.rng, 0, np.pi),
            8.0,
            asphalt(b),
            marking=paint_material(b),
        )
        add_traffic(b, int(b.rng.integers(1, 4)), 0.0)
    add_boats(b, int(b.rng.integers(2, 5)))
    add_trees(b, int(b.rng.integers(8, 30)))
    add_buildings(b, int(b.rng.integers(0, 3)), False, (3.0, 5.0))
    add_people(b, int(b.rng.integers(1, 6)), (1, 4))
    add_bikes(b, int(b.rng.integers(1, 5)), 0.5)
    if b.rng.random() < 0.9:
        add_animals(b, int(b.rng.integers(1, 4)), (2, 5), ("dog", "sheep", "horse", "cow"))
    add_obstacles(b, int(b.rng.integers(1, 5)), ("pole", "rock", "barrier"))


def build_rural(b: Builder) -> None:
    """Fields, a country road, farm buildings, herds, a few people, bikes and cars."""
    add_fields(b)
    surface = (
        asphalt(b) if b.rng.random() < 0.6 else terrain(b, GRAVEL, ROAD, texture=0.08, grain=0.15)
    )
    marking = paint_material(b) if b.rng.random() < 0.5 else None
    for _ in range(1 + int(b.rng.random() < 0.3)):
        add_road(
            b,
            near_point(b),
            uniform(b.rng, 0, np.pi),
            uniform(b.rng, 5, 8),
            surface,
            marking=marking,
        )
    add_buildings(b, int(b.rng.integers(1, 5)), True, (4.0, 8.0))
    if b.rng.random() < 0.9:
        add_animals(b, int(b.rng.integers(1, 4)), (3, 8), ("cow", "sheep", "horse"))
    add_boats(b, int(b.rng.integers(1, 4)))
    add_trees(b, int(b.rng.integers(4, 20)))
    if b.rng.random() < 0.6:
        add_people(b, int(b.rng.integers(1, 4)), (1, 3))
    if b.rng.random() < 0.6:
        add_bikes(b, int(b.rng.integers(1, 4)), 0.6)
    add_traffic(b, int(b.rng.integers(0, 4)), 0.0)
    add_obstacles(b, int(b.rng.integers(1, 5)), ("rock", "pole"))


def build_coast(b: Builder) -> None:
    """A shore with a beach and boats, a promenade road, buildings, people, bikes and cars."""
    water = b.ground.water
    along = math.atan2(water.normal[0], -water.normal[1])
    kerb, paint = bare(b, PAVING), paint_material(b)
    width, sidewalk = uniform(b.rng, 7, 9), uniform(b.rng, 3, 6)
    setback = water.shore + width / 2 + sidewalk + uniform(b.rng, 2.0, 6.0)
    for inland in np.arange(setback, setback + 60.0, 3.0):
        if add_road(
            b, water.point - water.normal * inland, along, width, asphalt(b), sidewalk, kerb, paint
        ):
            break
    add_boats(b, int(b.rng.integers(2, 7)))
    add_buildings(b, int(b.rng.integers(4, 16)), True, (4.0, 12.0))
    add_street_trees(b, 0.4)
    add_poles_along_roads(b, uniform(b.rng, 15, 30))
    add_traffic(b, int(b.rng.integers(1, 6)), 0.3)
    add_people(b, int(b.rng.integers(2, 6)), (1, 4), (S_SHORE, S_SIDEWALK, S_BARE, S_GREEN))
    add_bikes(b, int(b.rng.integers(1, 4)), 0.5)
    if b.rng.random() < 0.6:
        add_animals(b, int(b.rng.integers(1, 3)), (1, 3), ("dog",), WALKABLE)
    add_obstacles(b, int(b.rng.integers(0, 4)), ("barrier", "rock", "cone"))


SCENE_BUILDERS = {
    "urban": build_urban,
    "park": build_park,
    "rural": build_rural,
    "coast": build_coast,
}


@dataclass(frozen=True)
class SequencePlan:
    """What one sequence shows; drawn first from the sequence's own generator."""

    index: int
    frame_count: int
    view: str
    kind: str
    rng: np.random.Generator

    @property
    def image_ids(self) -> list[str]:
        """Ids `SSSSSS_FFF` of the sequence's frames."""
        return [f"{self.index:06d}_{k:03d}" for k in range(self.frame_count)]


def plan_sequences(num_images: int, seed: int, frames_per_sequence: int) -> list[SequencePlan]:
    """Split `num_images` frames into sequences and draw each one's view and scene kind (both
    counts at least 1, as `generate_dataset` checks)."""
    counts = [frames_per_sequence] * (num_images // frames_per_sequence)
    if num_images % frames_per_sequence:
        counts.append(num_images % frames_per_sequence)
    children = np.random.default_rng(seed).spawn(len(counts))
    plans = []
    for index, (count, rng) in enumerate(zip(counts, children, strict=True)):
        view = OBLIQUE if rng.random() < OBLIQUE_SHARE else NADIR
        kind = str(rng.choice(SCENE_KINDS, p=SCENE_WEIGHTS))
        plans.append(SequencePlan(index, count, view, kind, rng))
    return plans


def build_world(plan: SequencePlan, width: int, height: int) -> World:
    """Compose the world of one sequence and its cameras."""
    rng = plan.rng
    make_cameras = oblique_cameras if plan.view == OBLIQUE else nadir_cameras
    cameras = make_cameras(rng, plan.frame_count, width, height)
    overcast = bool(rng.random() < 0.25)
    sun, look = make_sun(rng, overcast), make_look(rng, overcast, plan.frame_count)
    materials = MaterialTable()
    regions = view_regions(cameras[0], plan.view, rng)
    b = Builder(rng, plan.view, plan.kind, cameras, materials, sun, look, make_tiles(rng), regions)
    b.ground = make_ground(b)
    SCENE_BUILDERS[plan.kind](b)
    if plan.view == OBLIQUE:
        add_backdrop(b)
        if rng.random() < 0.8:
            add_drones(b, int(rng.integers(1, 5)))
    return World(
        cameras,
        materials.palette(),
        b.ground,
        tuple(b.fields),
        tuple(b.overlays + road_overlays(b)),
        tuple(b.drawables),
        look,
        sun,
    )
