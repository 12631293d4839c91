"""Scene recipes (urban, park, rural, coast), the plan of each sequence (length, view, cast),
and composing the world of each of its shots."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from drone_seg.synthetic.builder import (
    LAND,
    S_BARE,
    S_GREEN,
    S_SHORE,
    S_SIDEWALK,
    WALKABLE,
    Builder,
    view_regions,
)
from drone_seg.synthetic.camera import NADIR, OBLIQUE, nadir_cameras, oblique_cameras
from drone_seg.synthetic.cast import cast_flights, class_mix, flight_lengths
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
    DIRT,
    GRAVEL,
    PAVING,
    add_crossing,
    add_fields,
    add_parking_lot,
    add_road,
    add_road_in_view,
    asphalt,
    bare,
    make_ground,
    paint_material,
    road_overlays,
    terrain,
)
from drone_seg.synthetic.world import World

SCENE_KINDS = ("urban", "park", "rural", "coast")
SCENE_WEIGHTS = (0.3, 0.3, 0.27, 0.13)
SHOT_FRAMES = 5
HOSTS = {"animal": ("park", "rural"), "boat": ("park", "rural", "coast")}


def add_cast(
    b: Builder,
    people: tuple[int, int],
    animals: tuple[str, ...],
    obstacles: tuple[str, ...],
    walk: tuple[int, ...] = WALKABLE,
) -> None:
    """The small things this flight was given: a group of people (on `walk`), a bike, a grazing
    herd of `animals`, a boat and a few obstacles (the scene places cars and poles)."""
    if b.shows("boat"):
        add_boats(b, 1)
    if b.shows("person"):
        add_people(b, 1, people, walk)
    if b.shows("bike"):
        add_bikes(b, 1, 0.3 if b.shows("person") else 0.0)
    if b.shows("animal"):
        add_animals(b, 1, (6, 12), animals, LAND)
    if b.shows("obstacle"):
        add_obstacles(b, int(b.rng.integers(1, 3)), obstacles)


def build_urban(b: Builder) -> None:
    """Streets in a grid with pavements, buildings, traffic, people, bikes and street furniture."""
    kerb, paint = bare(b, PAVING), paint_material(b)
    width, sidewalk = uniform(b.rng, 7, 10), uniform(b.rng, 2, 3.5)
    laid = (
        add_road_in_view(b, width, asphalt(b), sidewalk, kerb, paint) if b.shows("road") else None
    )
    if laid is not None:
        origin, angle = laid
        spacing = uniform(b.rng, 45, 80)
        for family, k in itertools.product((0, 1), range(-4, 5)):
            if family or k:
                direction = angle + family * np.pi / 2
                normal = heading_vector(direction + np.pi / 2)
                width, sidewalk = uniform(b.rng, 7, 10), uniform(b.rng, 2, 3.5)
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
    if b.shows("car") and b.rng.random() < 0.2:
        add_parking_lot(b)
    if b.shows("construction"):
        add_buildings(b, int(b.rng.integers(3, 10)), True, (4.0, 14.0))
    add_street_trees(b, 0.5)
    if b.shows("obstacle"):
        add_poles_along_roads(b, uniform(b.rng, 14, 28))
    if b.shows("car"):
        add_traffic(b, 1, 0.3)
    add_cast(b, (2, 6), (), ("barrier", "cone"))


def build_park(b: Builder) -> None:
    """Lawns with paths, trees, a pond with a boat, people, a bike or a grazing herd."""
    if b.shows("road"):
        path = terrain(
            b, GRAVEL if b.rng.random() < 0.5 else ASPHALT, ROAD, texture=0.06, grain=0.12
        )
        edge = bare(b, DIRT)  # a worn verge
        for _ in range(int(b.rng.integers(1, 3))):
            add_road_in_view(b, uniform(b.rng, 4.0, 8.0), path, uniform(b.rng, 0.3, 1.0), edge)
    if b.shows("car"):
        add_road_in_view(b, 8.0, asphalt(b), 0.0, None, paint_material(b))
        add_traffic(b, 1, 0.0)
    if b.shows("construction"):
        add_buildings(b, int(b.rng.integers(1, 4)), False, (3.0, 5.0))
    add_cast(b, (2, 6), ("sheep", "horse", "cow"), ("pole", "rock", "barrier"))
    add_trees(b, int(b.rng.integers(8, 30)))


def build_rural(b: Builder) -> None:
    """Fields, a country road with verges, farm buildings, a herd, people, a bike and a car."""
    add_fields(b)
    surface = (
        asphalt(b) if b.rng.random() < 0.6 else terrain(b, GRAVEL, ROAD, texture=0.08, grain=0.15)
    )
    marking = paint_material(b) if b.rng.random() < 0.5 else None
    for _ in range((1 + int(b.rng.random() < 0.3)) * b.shows("road")):
        shoulder = uniform(b.rng, 0.6, 1.5)
        add_road_in_view(b, uniform(b.rng, 6, 9), surface, shoulder, bare(b, GRAVEL), marking)
    if b.shows("construction"):
        add_buildings(b, int(b.rng.integers(2, 5)), True, (4.0, 8.0))
    add_cast(b, (2, 5), ("cow", "sheep", "horse"), ("rock", "pole"))
    add_trees(b, int(b.rng.integers(4, 20)))
    if b.shows("car"):
        add_traffic(b, 1, 0.0)


def build_coast(b: Builder) -> None:
    """A shore with a beach and a boat, a promenade road, buildings, people, a bike and a car."""
    water = b.ground.water
    along = math.atan2(water.normal[0], -water.normal[1])
    kerb, paint = bare(b, PAVING), paint_material(b)
    width, sidewalk = uniform(b.rng, 7, 9), uniform(b.rng, 3, 6)
    setback = water.shore + width / 2 + sidewalk + uniform(b.rng, 2.0, 6.0)
    for inland in np.arange(setback, setback + 60.0, 3.0) if b.shows("road") else ():
        if add_road(
            b, water.point - water.normal * inland, along, width, asphalt(b), sidewalk, kerb, paint
        ):
            break
    if b.shows("construction"):
        add_buildings(b, int(b.rng.integers(2, 8)), True, (4.0, 12.0))
    add_street_trees(b, 0.4)
    if b.shows("obstacle"):
        add_poles_along_roads(b, uniform(b.rng, 15, 30))
    if b.shows("car"):
        add_traffic(b, 1, 0.3)
    add_cast(b, (2, 6), (), ("barrier", "rock", "cone"), (S_SHORE, S_SIDEWALK, S_BARE, S_GREEN))


SCENE_BUILDERS = {
    "urban": build_urban,
    "park": build_park,
    "rural": build_rural,
    "coast": build_coast,
}


def scene_kind(cast: frozenset[str], rng: np.random.Generator) -> str:
    """A scene kind that can hold the cast (herds graze in parks and fields; boats need room on
    a lake or the sea), drawn by SCENE_WEIGHTS."""
    kinds = [k for k in SCENE_KINDS if all(k in HOSTS.get(name, SCENE_KINDS) for name in cast)]
    weights = np.array([SCENE_WEIGHTS[SCENE_KINDS.index(k)] for k in kinds])
    return str(rng.choice(kinds, p=weights / weights.sum()))


@dataclass(frozen=True)
class SequencePlan:
    """What one sequence shows: its frames, view and cast, and its own generator."""

    index: int
    frame_count: int
    view: str
    cast: frozenset[str]
    rng: np.random.Generator

    @property
    def image_ids(self) -> list[str]:
        """Ids `SSSSSS_FFF` of the sequence's frames."""
        return [f"{self.index:06d}_{k:03d}" for k in range(self.frame_count)]

    @property
    def shots(self) -> list[int]:
        """Frame counts of the shots a flight is filmed in, of at most SHOT_FRAMES each: every
        shot has a world of its own (the flight's view and cast, a scene kind of its own), as a
        drone flying on sees new ground: a long flight is not one scene seen a hundred times,
        and a 400-image set does not hang on the kind of its longest flight."""
        count = -(-self.frame_count // SHOT_FRAMES)
        return [len(part) for part in np.array_split(np.arange(self.frame_count), count)]


def plan_sequences(
    num_images: int,
    seed: int,
    frames_per_sequence: int | None = None,
    mix: Mapping[str, float] | None = None,
) -> list[SequencePlan]:
    """Split `num_images` frames into flights (of AeroScapes' lengths, or of
    `frames_per_sequence`), cast each flight's classes after `mix` (AeroScapes' shares, see
    `cast.class_mix`); oblique flights are those cast with sky."""
    rng = np.random.default_rng(seed)
    if frames_per_sequence is None:
        counts = flight_lengths(num_images, rng)
    else:
        counts = [frames_per_sequence] * (num_images // frames_per_sequence)
        counts += [num_images % frames_per_sequence] if num_images % frames_per_sequence else []
    casts = cast_flights(counts, class_mix(mix), rng)
    children = rng.spawn(len(counts))
    plans = []
    for index, (count, cast, child) in enumerate(zip(counts, casts, children, strict=True)):
        view = OBLIQUE if "sky" in cast else NADIR
        plans.append(SequencePlan(index, count, view, cast, child))
    return plans


def build_world(
    plan: SequencePlan, frames: int, rng: np.random.Generator, width: int, height: int
) -> World:
    """Compose the world of one shot of `frames` frames of a sequence, and its cameras."""
    make_cameras = oblique_cameras if plan.view == OBLIQUE else nadir_cameras
    cameras = make_cameras(rng, frames, width, height)
    overcast = bool(rng.random() < 0.25)
    sun, look = make_sun(rng, overcast), make_look(rng, overcast, frames)
    materials = MaterialTable()
    regions = view_regions(cameras[0], plan.view, rng)
    tiles = make_tiles(rng)
    kind = scene_kind(plan.cast, rng)
    b = Builder(rng, plan.view, kind, cameras, materials, sun, look, tiles, regions, plan.cast)
    b.ground = make_ground(b)
    SCENE_BUILDERS[kind](b)
    if plan.view == OBLIQUE:
        add_backdrop(b)
    if b.shows("drone"):
        add_drones(b, 1 + int(rng.random() < 0.15))
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
