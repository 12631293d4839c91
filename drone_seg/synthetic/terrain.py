"""The ground of a world: land cover, water, roads with their markings, parking lots and
fields."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from drone_seg.synthetic.builder import S_WATER, Builder, Road, road_gaps
from drone_seg.synthetic.camera import OBLIQUE
from drone_seg.synthetic.materials import BACKGROUND, CANOPY, CAR, ROAD, ROWS, VEGETATION, WATER
from drone_seg.synthetic.objects import car_parts
from drone_seg.synthetic.sampling import pick, uniform, vary
from drone_seg.synthetic.shapes import (
    box,
    heading_vector,
    inside_convex,
    polyline_at,
    polyline_length,
    rotate,
    segment,
    strip,
)
from drone_seg.synthetic.solids import solid
from drone_seg.synthetic.world import Ground, Overlay, Water

GRASS = [(88, 128, 60), (100, 140, 64), (76, 116, 54), (112, 138, 70)]
DRY_GRASS = [(150, 148, 92), (138, 140, 84), (164, 152, 104)]
DIRT = [(140, 116, 88), (128, 104, 78), (150, 128, 98)]
SAND = [(214, 198, 162), (200, 184, 146), (222, 208, 176)]
PAVING = [(168, 166, 160), (150, 148, 144), (182, 178, 170)]
ASPHALT = [(72, 74, 78), (84, 85, 88), (62, 63, 66)]
GRAVEL = [(150, 140, 122), (136, 130, 118)]
WATER_COLOURS = [(42, 84, 118), (38, 98, 108), (58, 84, 72), (30, 62, 88)]
CROPS = [(96, 138, 58), (120, 150, 66), (190, 172, 98), (70, 110, 50), (150, 160, 80)]
FOREST = [(44, 72, 40), (52, 82, 44), (40, 66, 42)]


def terrain(b: Builder, colours, class_id: int, **kw) -> int:
    """A ground material: colour and a second colour varied per sequence, hazed per pixel."""
    first, second = vary(b.rng, pick(b.rng, colours), 8), vary(b.rng, pick(b.rng, colours), 8)
    return b.materials.add(first, class_id, alt=second, terrain=True, **kw)


def grass(b: Builder, dry: bool = False) -> int:
    """Grass with clumpy texture; lawns sometimes show mowing stripes."""
    stripes = {}
    if not dry and b.kind in ("park", "urban") and b.rng.random() < 0.4:
        stripes = dict(
            pattern=ROWS, angle=uniform(b.rng, 0, np.pi), period=uniform(b.rng, 3, 6), strength=0.07
        )
    return terrain(b, DRY_GRASS if dry else GRASS, VEGETATION, texture=0.13, grain=0.12, **stripes)


def bare(b: Builder, colours) -> int:
    """Bare ground (dirt, sand, paving): background class."""
    return terrain(b, colours, BACKGROUND, texture=0.08, grain=0.1)


def make_water(b: Builder, kind: str) -> Water:
    """A coast, river or lake whose shore crosses the near region.

    Seen obliquely, a coast lies in front of or beside the camera (so the land behind it, with its
    promenade and buildings, is in view).
    """
    near_centre = b.regions.near.mean(0)
    normal = heading_vector(uniform(b.rng, 0, 2 * np.pi))
    if kind == "coast" and b.view == OBLIQUE:
        forward = b.camera.rotation[2]
        towards_camera = math.atan2(-forward[1], -forward[0])
        normal = heading_vector(towards_camera + uniform(b.rng, -1.8, 1.8))
    water = terrain(b, WATER_COLOURS, BACKGROUND, texture=0.05, grain=0.03, pattern=WATER)
    shore = bare(b, SAND if kind != "river" else DIRT)
    span = float(np.linalg.norm(b.regions.near[0] - b.regions.near[1]))
    if kind == "lake":
        radius = uniform(b.rng, 0.35, 0.7) * span + 8.0
        reach = uniform(b.rng, 0.3, 0.6) if b.shows("boat") else uniform(b.rng, 0.9, 1.4)
        point = near_centre + normal * radius * reach  # a boat's flight looks onto the lake
        return Water(kind, point, normal, radius, 3.0, uniform(b.rng, 1.0, 3.0), water, shore)
    if kind == "river":
        point = near_centre + normal * uniform(b.rng, -0.2, 0.2) * span
        half_width = uniform(b.rng, 0.12, 0.3) * span
        return Water(kind, point, normal, half_width, 3.0, uniform(b.rng, 1.0, 3.0), water, shore)
    point = near_centre + normal * uniform(b.rng, 0.1, 0.35) * span
    return Water(
        kind, point, normal, 0.0, uniform(b.rng, 1.5, 3.0), uniform(b.rng, 4.0, 10.0), water, shore
    )


GROUND_RECIPES = {  # base (low, mid, high noise), thresholds, feature scale, forest chance, water
    "urban": ("paving", "grass", "dirt", (-0.6, 0.8), 3.0, 0.1, {"river": 0.25}),
    "park": ("dirt", "grass", "dry", (-1.3, 0.9), 2.2, 0.4, {"lake": 0.3}),
    "rural": ("dirt", "grass", "dry", (-0.9, 0.6), 1.6, 0.6, {"river": 0.25, "lake": 0.2}),
    "coast": ("sand", "dry", "grass", (0.0, 0.9), 1.9, 0.2, {"coast": 1.0}),
}


def make_ground(b: Builder) -> Ground:
    """Base land cover, woodland and water for the scene kind."""
    low, mid, high, thresholds, scale, forest_chance, waters = GROUND_RECIPES[b.kind]
    makers = {
        "paving": lambda: bare(b, PAVING),
        "dirt": lambda: bare(b, DIRT),
        "sand": lambda: bare(b, SAND),
        "grass": lambda: grass(b),
        "dry": lambda: grass(b, dry=True),
    }
    forest = None
    if b.rng.random() < forest_chance:
        forest = terrain(b, FOREST, VEGETATION, texture=0.1, grain=0.1, pattern=CANOPY)
    water = None
    if b.shows("road"):  # a river would cut every road through the view
        waters = {kind: chance for kind, chance in waters.items() if kind != "river"}
    draw = b.rng.random()
    for kind, chance in waters.items():
        if draw < chance:
            water = make_water(b, kind)
            break
        draw -= chance
    if b.shows("boat") and (water is None or water.kind == "river"):
        water = make_water(b, "lake")  # room for a boat in view
    return Ground(
        b.tiles,
        scale,
        (makers[low](), makers[mid](), makers[high]()),
        thresholds,
        forest,
        uniform(b.rng, 0.9, 1.5),
        water,
    )


def road_line(rng: np.random.Generator, through: np.ndarray, angle: float, length: float):
    """A long, gently curving centreline through a point."""
    s = np.linspace(-length / 2, length / 2, 61)
    bend = uniform(rng, -1.0, 1.0) * length * 0.02 * (rng.random() < 0.5)
    wave = bend * np.sin(2 * np.pi * s / length * uniform(rng, 0.5, 1.5) + uniform(rng, 0, 6.3))
    direction = heading_vector(angle)
    return through + np.outer(s, direction) + np.outer(wave, [-direction[1], direction[0]])


def road_is_dry(b: Builder, line: np.ndarray, half_width: float) -> bool:
    """Whether a road keeps off the water (and its shore) where it can be seen."""
    if b.ground.water is None:
        return True
    s = np.arange(0.0, polyline_length(line), 4.0)
    points = polyline_at(line, s)[0]
    level = b.ground.water_level_at(points[inside_convex(points, b.regions.extent)])
    return bool((level < -(b.ground.water.shore + half_width + 2.0)).all())


def extent_length(b: Builder) -> float:
    """Road length that spans the whole layout extent from anywhere inside it."""
    quad = b.regions.extent
    return 2.2 * float(np.linalg.norm(quad.max(0) - quad.min(0)))


def add_road(b: Builder, through, angle, width, surface, sidewalk=0.0, kerb=None, marking=None):
    """Add a road through a point if it stays dry; return whether it was added."""
    line = road_line(b.rng, np.asarray(through, float), angle, extent_length(b))
    if not road_is_dry(b, line, width / 2 + sidewalk):
        return False
    b.roads.append(Road(line, width, surface, sidewalk, kerb, marking))
    return True


def add_road_in_view(
    b: Builder, width: float, surface: int, *extra: float | int | None, tries: int = 12
) -> tuple[np.ndarray, float] | None:
    """Add a road through the near region that stays dry (trying a few points and angles);
    return the point and angle it was laid through, or None if every try met water."""
    for _ in range(tries):
        through, angle = b.sample(b.regions.near, 1)[0], uniform(b.rng, 0, np.pi)
        if add_road(b, through, angle, width, surface, *extra):
            return through, angle
    return None


def asphalt(b: Builder) -> int:
    """Road surface material."""
    return terrain(b, ASPHALT, ROAD, texture=0.06, grain=0.12)


def paint_material(b: Builder) -> int:
    """Lane-marking paint (white, sometimes yellow)."""
    colour = (225, 222, 210) if b.rng.random() < 0.8 else (225, 190, 60)
    return b.materials.add(vary(b.rng, colour, 5), ROAD, texture=0.03, grain=0.05, terrain=True)


def lane_dashes(road: Road, others: Sequence[Road], limit: np.ndarray) -> list[np.ndarray]:
    """Centre-line dash quads inside `limit`, skipping intersections with other roads."""
    s = np.arange(0.0, polyline_length(road.line) - 3.0, 9.0)
    start, tangent = polyline_at(road.line, s)
    inside = inside_convex(start, limit)
    start, tangent = start[inside], tangent[inside]
    if others and len(start):
        clear = (road_gaps(start, others) > 1.0).all(1)
        start, tangent = start[clear], tangent[clear]
    return [segment(p, p + 3.0 * t, 0.18) for p, t in zip(start, tangent, strict=True)]


def road_overlays(b: Builder) -> list[Overlay]:
    """Pavements, road surfaces and markings, in painting order."""
    overlays = []
    for road in (r for r in b.roads if r.sidewalk > 0):
        reach = road.width / 2 + road.sidewalk
        overlays += b.overlay(road.kerb, [strip(road.line, reach, -reach)], False)
    for road in b.roads:
        overlays += b.overlay(
            road.surface, [strip(road.line, road.width / 2, -road.width / 2)], False
        )
    for road in (r for r in b.roads if r.marking is not None):
        others = [r for r in b.roads if r is not road]
        overlays += b.overlay(road.marking, lane_dashes(road, others, b.regions.middle), True)
        edge = road.width / 2
        lines = [strip(road.line, s * (edge - 0.3), s * (edge - 0.5)) for s in (1, -1)]
        overlays += b.overlay(road.marking, lines, False)
    return overlays


def add_crossing(b: Builder) -> None:
    """Zebra stripes across a marked road in view."""
    marked = [spot for spot in b.road_spots(40, b.regions.near) if spot[0].marking is not None]
    if not marked:
        return
    road, point, tangent = marked[0]
    normal = np.array([-tangent[1], tangent[0]])
    count = int((road.width - 1.0) / 1.0)
    stripes = [
        segment(point + normal * o - tangent * 1.5, point + normal * o + tangent * 1.5, 0.5)
        for o in (np.arange(count) - (count - 1) / 2)
    ]
    b.overlays += b.overlay(road.marking, stripes, True)


def add_parking_lot(b: Builder) -> None:
    """An asphalt lot beside a road, with stall lines and parked cars."""
    spots = b.road_spots(1, b.regions.near)
    if not spots:
        return
    road, point, tangent = spots[0]
    normal = np.array([-tangent[1], tangent[0]]) * (1 if b.rng.random() < 0.5 else -1)
    length, depth = uniform(b.rng, 18, 32), 12.0
    centre = point + normal * (road.width / 2 + road.sidewalk + depth / 2 + 0.5)
    corners = box(-length / 2, -depth / 2, length / 2, depth / 2)
    angle = math.atan2(tangent[1], tangent[0])
    outline = rotate(corners, angle) + centre
    if b.surface(outline).max() == S_WATER:
        return
    b.lots.append(outline)
    b.claim(centre, 1.0)
    b.overlays += b.overlay(terrain(b, ASPHALT, ROAD, texture=0.06, grain=0.12), [outline], True)
    stalls = []
    paint = paint_material(b)
    for side in (-1, 1):
        for u in np.arange(-length / 2 + 1.3, length / 2 - 1.2, 2.6):
            base = np.array([u, side * depth / 2])
            stalls.append(rotate(segment(base, base - (0, side * 5.0), 0.15), angle) + centre)
            if b.rng.random() < 0.3 and u + 2.6 < length / 2:
                where = rotate(np.array([[u + 1.3, side * (depth / 2 - 2.6)]]), angle)[0] + centre
                car = car_parts(b.kit(CAR, where), b.rng)
                b.add(solid(car, where, angle + np.pi / 2 * side, b.sun))
    b.overlays += b.overlay(paint, stalls, True)


def add_fields(b: Builder) -> None:
    """A grid of crop fields with row textures, separated by narrow tracks."""
    angle = uniform(b.rng, 0, np.pi)
    size = np.array([uniform(b.rng, 30, 70), uniform(b.rng, 20, 50)])
    local = rotate(b.regions.extent - b.regions.extent.mean(0), angle)
    low, high = local.min(0), local.max(0)
    crops = [field_material(b, angle) for _ in range(6)]
    groups: dict[int, list[np.ndarray]] = {}
    for u in np.arange(low[0], high[0], size[0]):
        for v in np.arange(low[1], high[1], size[1]):
            if b.rng.random() < 0.25:
                continue
            cell = box(u + 1.2, v + 1.2, u + size[0] - 1.2, v + size[1] - 1.2)
            groups.setdefault(pick(b.rng, crops), []).append(
                rotate(cell, -angle) + b.regions.extent.mean(0)
            )
    for material, polygons in groups.items():
        b.fields += b.overlay(material, polygons, True)


def field_material(b: Builder, angle: float) -> int:
    """A crop (vegetation) or ploughed (background) field surface with rows."""
    crop = b.rng.random() < 0.75
    return terrain(
        b,
        CROPS if crop else DIRT,
        VEGETATION if crop else BACKGROUND,
        texture=0.08,
        grain=0.1,
        pattern=ROWS,
        angle=angle + np.pi / 2 * (b.rng.random() < 0.5),
        period=uniform(b.rng, 0.9, 2.0),
        strength=uniform(b.rng, 0.08, 0.2),
    )
