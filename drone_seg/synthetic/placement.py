"""Objects put into a world: buildings, trees, people, bikes, animals, traffic, boats,
obstacles, drones and the horizon backdrop, each where it can stand."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from drone_seg.synthetic.builder import LAND, S_GREEN, S_WATER, WALKABLE, Builder, Road
from drone_seg.synthetic.camera import OBLIQUE, REFERENCE_WIDTH, Camera
from drone_seg.synthetic.materials import (
    ANIMAL,
    BIKE,
    BOAT,
    CANOPY,
    CAR,
    CONSTRUCTION,
    DRONE,
    OBSTACLE,
    PERSON,
    VEGETATION,
)
from drone_seg.synthetic.noise import BLEND, CROWNS, sample_points
from drone_seg.synthetic.objects import (
    ANIMAL_SIZES,
    animal_from_above,
    animal_materials,
    animal_side,
    barrier_parts,
    bike_from_above,
    bike_materials,
    bike_side,
    boat_parts,
    car_parts,
    cone_parts,
    drone_from_above,
    drone_shapes,
    house_parts,
    person_from_above,
    person_materials,
    person_standing,
    pole_parts,
    rock_parts,
    tree_shapes,
)
from drone_seg.synthetic.raster import flat
from drone_seg.synthetic.sampling import pick, uniform, vary
from drone_seg.synthetic.shapes import (
    box,
    ellipse,
    heading_vector,
    inside_convex,
    polyline_at,
    polyline_length,
    rotate,
    segment,
)
from drone_seg.synthetic.solids import solid, unit
from drone_seg.synthetic.world import Backdrop, Sprite


def building_height_cap(b: Builder) -> float:
    """Tallest building or tree: below an oblique camera's horizon, modest lean in nadir views."""
    return float(b.camera.position[2]) * (0.8 if b.view == OBLIQUE else 0.3)


def add_buildings(b: Builder, count: int, along_roads: bool, height: tuple[float, float]) -> None:
    """Buildings set back from roads (or scattered), never on roads, water or other objects."""
    if along_roads and b.roads:
        sites = [roadside_site(b, *spot) for spot in b.road_spots(count * 6, b.regions.middle)]
    else:
        sites = [(p, uniform(b.rng, 0, np.pi)) for p in b.sample(b.regions.middle, count * 6)]
    if not sites:
        return
    low, high = ((9.0, 8.0), (20.0, 15.0)) if b.upright else ((6.0, 5.0), (13.0, 10.0))
    sizes = b.rng.uniform(low, high, (len(sites), 2))
    probes = np.stack(
        [footprint_probes(c, a, size) for (c, a), size in zip(sites, sizes, strict=True)]
    )
    clear = np.isin(b.surface(probes.reshape(-1, 2)), LAND).reshape(len(sites), -1).all(1)
    seen = b.in_view(probes.reshape(-1, 2)).reshape(len(sites), -1)
    # Partly in view first (AeroScapes' buildings are mostly cut by the frame), then wholly.
    order = np.argsort(2 * ~seen.any(1) + seen.all(1), kind="stable")
    sites, sizes, clear = [sites[i] for i in order], sizes[order], clear[order]
    placed = 0
    for (centre, angle), size, ok in zip(sites, sizes, clear, strict=True):
        radius = float(np.hypot(*size)) / 2
        if placed == count:
            break
        if not ok or not b.free(centre, radius):
            continue
        b.claim(centre, radius)
        storeys = min(uniform(b.rng, *height), building_height_cap(b))
        parts = house_parts(b.kit(CONSTRUCTION, centre), b.rng, size, storeys)
        b.add(solid(parts, centre, angle, b.sun))
        placed += 1


def roadside_site(b: Builder, road: Road, point: np.ndarray, tangent: np.ndarray):
    """Centre and orientation of a building facing a road at a point of its centreline."""
    side = 1 if b.rng.random() < 0.5 else -1
    normal = np.array([-tangent[1], tangent[0]]) * side
    setback = road.width / 2 + road.sidewalk + uniform(b.rng, 6.0, 12.0)
    return point + normal * setback, math.atan2(tangent[1], tangent[0])


def footprint_probes(centre: np.ndarray, angle: float, size: np.ndarray) -> np.ndarray:
    """Corners, centre and corner-centre midpoints of a rotated rectangular footprint."""
    corners = rotate(box(-size[0] / 2, -size[1] / 2, size[0] / 2, size[1] / 2), angle) + centre
    return np.concatenate([corners, [centre], (corners + centre) / 2])


def add_trees(b: Builder, count: int) -> None:
    """Single trees on open ground."""
    for point in b.spots(count, 2.5, LAND, b.regions.middle):
        b.add(tree_sprite(b, point))


def tree_sprite(b: Builder, point: np.ndarray) -> Sprite:
    """A tree at a ground point with its cast shadow, no taller than buildings may be."""
    shapes, radius, height = tree_shapes(b.kit(VEGETATION, point), b.rng, b.upright)
    scale = min(1.0, building_height_cap(b) / height)
    shapes = tuple((shape * scale, m) for shape, m in shapes)
    lift = 0.0 if b.upright else height * scale * 0.75
    canopy = b.sun.shadow_offset(height * scale * 0.7)
    shadow = (
        ellipse(*canopy, radius * scale, radius * scale * 0.9),
        segment((0.0, 0.0), canopy, 0.35),
    )
    return Sprite(shapes, np.array([*point, lift]), np.zeros(3), 0.0, b.upright, shadow)


def add_street_trees(b: Builder, chance: float, limit: int = 24) -> None:
    """Rows of trees on pavements."""
    planted = 0
    for road in (r for r in b.roads if r.sidewalk > 0 and b.rng.random() < chance):
        s = np.arange(uniform(b.rng, 0, 10), polyline_length(road.line), uniform(b.rng, 9, 16))
        points, tangents = polyline_at(road.line, s)
        side = 1 if b.rng.random() < 0.5 else -1
        offset = side * (road.width / 2 + road.sidewalk * 0.5)
        points = points + offset * np.stack([-tangents[:, 1], tangents[:, 0]], 1)
        for point in points[inside_convex(points, b.regions.middle)]:
            if planted < limit and b.free(point, 1.5):
                b.claim(point, 1.5)
                b.add(tree_sprite(b, point))
                planted += 1


def person_sprite(b: Builder, point, heading: float, speed: float, lift: float = 0.0) -> Sprite:
    """A person standing or walking at a ground point."""
    materials = person_materials(b.kit(PERSON, point), b.rng)
    if b.upright:
        height = uniform(b.rng, 1.85, 2.15)
        shapes = person_standing(materials, b.rng, height)
        origin = np.array([*point, lift])
    else:
        height = uniform(b.rng, 2.4, 2.7)
        shapes = person_from_above(materials, b.rng, height)
        origin = np.array([*point, 1.7 + lift])
    reach = b.sun.shadow_offset(height)
    shadow = (
        ellipse(*(reach / 2), np.hypot(*reach) / 2 + 0.25, 0.3, math.atan2(reach[1], reach[0])),
    )
    velocity = np.array([*(heading_vector(heading) * speed), 0.0])
    return Sprite(shapes, origin, velocity, heading, b.upright, shadow, depth_bias=lift)


def add_people(b: Builder, groups: int, size: tuple[int, int], surfaces=WALKABLE) -> None:
    """Groups of people standing together or walking the same way."""
    for centre in b.spots(groups, 0.6, surfaces):
        heading = b.image_heading()
        speed = uniform(b.rng, 0.05, 0.3) if b.rng.random() < 0.6 else 0.0
        members = int(b.rng.integers(size[0], size[1] + 1))
        for i in range(members):
            point = centre + (
                rotate(np.array([[1.4 * i, b.rng.normal(0, 0.5)]]), heading)[0] if i else 0.0
            )
            if i and not (b.free(point, 0.45) and b.surface(point[None])[0] in surfaces):
                continue
            b.claim(point, 0.45)
            b.add(person_sprite(b, point, heading + b.rng.normal(0, 0.3), speed))


def bike_sprites(b: Builder, point, heading: float, speed: float, rider: bool) -> list[Sprite]:
    """A bicycle, optionally with a rider sitting on it."""
    materials = bike_materials(b.kit(BIKE, point), b.rng)
    scale = uniform(b.rng, 0.95, 1.05) if b.upright else uniform(b.rng, 1.05, 1.15)
    shapes = bike_side(materials, scale) if b.upright else bike_from_above(materials, scale)
    lift = 0.0 if b.upright else 0.8
    velocity = np.array([*(heading_vector(heading) * speed), 0.0])
    reach = b.sun.shadow_offset(1.1 * scale)
    shadow = (ellipse(*(reach / 2), 0.9 * scale, 0.25, heading),)
    sprites = [Sprite(shapes, np.array([*point, lift]), velocity, heading, b.upright, shadow)]
    if rider:
        person = person_sprite(b, point, heading, speed, lift=0.55 * scale if b.upright else 0.4)
        sprites.append(person)
    return sprites


def add_bikes(b: Builder, count: int, ridden: float) -> None:
    """Bicycles at the edges of roads that run up the image (some ridden along the road), the
    rest parked on open ground, also pointing up the image: AeroScapes' bike boxes are narrow."""
    placed = 0
    axis = heading_vector(b.image_heading(0.0))
    for road, point, tangent in b.road_spots(count * 4, b.regions.near):
        if placed == count or abs(float(tangent @ axis)) < 0.8:
            continue
        side = 1 if b.rng.random() < 0.5 else -1
        spot = point + side * (road.width / 2 - 1.0) * np.array([-tangent[1], tangent[0]])
        if not b.free(spot, 1.2):
            continue
        b.claim(spot, 1.2)
        heading = math.atan2(tangent[1], tangent[0]) + (np.pi if side > 0 else 0.0)
        rider = b.rng.random() < ridden
        speed = uniform(b.rng, 0.3, 0.8) if rider else 0.0
        for sprite in bike_sprites(b, spot, heading, speed, rider):
            b.add(sprite)
        placed += 1
    for spot in b.spots(count - placed, 1.2, WALKABLE):
        for sprite in bike_sprites(b, spot, b.image_heading(), 0.0, False):
            b.add(sprite)


def add_animals(
    b: Builder, herds: int, size: tuple[int, int], kinds: Sequence[str], surfaces=(S_GREEN,)
) -> None:
    """Herds of one animal kind grazing or walking (on grass unless told otherwise)."""
    for centre in b.spots(herds, 2.0, surfaces):
        kind = pick(b.rng, kinds)
        members = int(b.rng.integers(size[0], size[1] + 1))
        length = ANIMAL_SIZES[kind][0]
        points = centre + np.array([b.image_offset(4.5, 5.0) for _ in range(members * 3)])
        points[0] = centre
        allowed = np.isin(b.surface(points), surfaces)
        allowed[0] = True
        placed = 0
        for point in points[allowed]:
            if placed == members:
                break
            if placed and not b.free(point, length / 2):
                continue
            b.claim(point, length / 2)
            b.add(animal_sprite(b, point, kind))
            placed += 1


def animal_sprite(b: Builder, point, kind: str) -> Sprite:
    """One animal, mostly still, sometimes ambling."""
    materials = animal_materials(b.kit(ANIMAL, point), b.rng, kind)
    heading = uniform(b.rng, 0, 2 * np.pi)
    length, body, legs = ANIMAL_SIZES[kind]
    shapes = (
        animal_side(materials, b.rng, kind)
        if b.upright
        else animal_from_above(materials, b.rng, kind)
    )
    origin = np.array([*point, 0.0 if b.upright else legs + body])
    speed = uniform(b.rng, 0.05, 0.2) if b.rng.random() < 0.4 else 0.0
    reach = b.sun.shadow_offset(legs + body)
    shadow = (ellipse(*(reach * 0.6), length * 0.45, body * 0.6, heading),)
    velocity = np.array([*(heading_vector(heading) * speed), 0.0])
    return Sprite(shapes, origin, velocity, heading, b.upright, shadow)


def add_traffic(b: Builder, count: int, parked: float) -> None:
    """Cars driving in their lanes or parked at the kerb, near the camera if a road passes there."""
    spots = b.road_spots(count * 4, b.regions.near) + b.road_spots(count * 4, b.regions.middle)
    placed = 0
    for road, point, tangent in spots:
        if placed == count or (road.marking is None and road.width < 5):
            continue
        side = 1 if b.rng.random() < 0.5 else -1
        normal = np.array([-tangent[1], tangent[0]])
        is_parked = b.rng.random() < parked and road.sidewalk > 0
        offset = road.width / 2 - 1.3 if is_parked else road.width / 4
        spot = point + side * offset * normal
        heading = math.atan2(tangent[1], tangent[0]) + (np.pi if side > 0 else 0.0)
        speed = 0.0 if is_parked or b.rng.random() < 0.2 else uniform(b.rng, 0.4, 1.4)
        if not b.claim_path(spot, 2.4, heading_vector(heading) * speed):
            continue
        parts = car_parts(b.kit(CAR, spot), b.rng)
        b.add(solid(parts, spot, heading, b.sun, heading_vector(heading) * speed))
        placed += 1


def add_boats(b: Builder, count: int) -> None:
    """Boats on the water, some moving with a foam wake."""
    if b.ground.water is None:
        return
    candidates = np.concatenate(
        [b.sample(quad, count * 40 + 20) for quad in (b.regions.near, b.regions.middle)]
    )
    placed = 0
    for point, depth in zip(candidates, b.ground.water_level_at(candidates), strict=True):
        if placed == count:
            break
        length, heading = uniform(b.rng, 3.0, 3.6), b.image_heading(0.5)
        speed = uniform(b.rng, 0.2, 0.9) if b.rng.random() < 0.6 else 0.0
        velocity = heading_vector(heading) * speed
        room = length * 0.6 + 1.0 + speed * (len(b.cameras) - 1)
        if depth < room or not b.claim_path(point, length / 2, velocity):
            continue
        parts, beam = boat_parts(b.kit(BOAT, point), b.rng, length)
        wake = boat_wake(length, beam) if speed else None
        b.add(solid(parts, point, heading, b.sun, velocity, wake))
        placed += 1


def boat_wake(length: float, beam: float) -> np.ndarray:
    """Foam trailing behind a moving boat, in the boat's frame."""
    stern, tail = -length / 2, -length * 2.2
    return np.array(
        [(stern, -beam / 3), (stern, beam / 3), (tail, beam * 1.6), (tail, -beam * 1.6)]
    )


OBSTACLE_MAKERS = {
    "pole": pole_parts,
    "barrier": barrier_parts,
    "cone": cone_parts,
    "rock": rock_parts,
}


def add_obstacles(b: Builder, count: int, kinds: Sequence[str]) -> None:
    """Poles, barriers, cones or rocks on open ground, beaches and pavements."""
    for point in b.spots(count, 1.2, WALKABLE):
        parts = OBSTACLE_MAKERS[pick(b.rng, kinds)](b.kit(OBSTACLE, point), b.rng)
        b.add(solid(parts, point, uniform(b.rng, 0, 2 * np.pi), b.sun))


def add_poles_along_roads(b: Builder, spacing: float, limit: int = 12) -> None:
    """Lamp or utility poles along the roadside, alternating sides."""
    placed = 0
    for road in b.roads:
        s = np.arange(uniform(b.rng, 0, spacing), polyline_length(road.line), spacing)
        points, tangents = polyline_at(road.line, s)
        side = np.where(np.arange(len(s)) % 2 == 0, 1.0, -1.0)[:, None]
        normals = np.stack([-tangents[:, 1], tangents[:, 0]], 1) * side
        points = points + (road.width / 2 + max(road.sidewalk - 0.6, 0.8)) * normals
        keep = inside_convex(points, b.regions.middle)
        for point, normal in list(zip(points[keep], normals[keep], strict=True))[:4]:
            if placed < limit and b.free(point, 0.6) and b.surface(point[None])[0] != S_WATER:
                b.claim(point, 0.6)
                placed += 1
                parts = pole_parts(b.kit(OBSTACLE, point), b.rng)
                b.add(solid(parts, point, math.atan2(-normal[1], -normal[0]), b.sun))


def add_drones(b: Builder, count: int) -> None:
    """Small quadcopters drifting slightly: in the sky above an oblique view's horizon, or below a
    nadir camera, seen from above against the ground (no nearer the ground than a fifth of the
    camera's height)."""
    camera = b.camera
    unit_px = camera.width / REFERENCE_WIDTH
    taken: list[np.ndarray] = []
    for _ in range(count):
        span = float(np.clip(23 * np.exp(b.rng.normal(0, 0.3)), 8, 90)) * unit_px  # mostly far
        if not b.upright:
            span = max(span, camera.focal / (0.8 * camera.position[2]))
        x = uniform(b.rng, 0.06, 0.94) * camera.width
        top = 0.03 * camera.height + span * 0.3
        bottom = (horizon_row(camera, x) - span * 0.7) if b.upright else camera.height - top
        if bottom <= top:
            continue
        y = uniform(b.rng, top, bottom)
        pixel = np.array([x, y])
        if any(np.hypot(*(pixel - t)) < span * 1.5 for t in taken):
            continue
        taken.append(pixel)
        depth = camera.focal / span
        origin = camera.position + depth * np.array(camera.rays(np.array(x), np.array(y)))
        drift = np.array([*b.rng.normal(0, 0.04, 2), b.rng.normal(0, 0.01)]) * depth
        heading = uniform(b.rng, 0, 2 * np.pi) if b.upright else b.image_heading(0.2) + np.pi / 2
        maker = drone_shapes if b.upright else drone_from_above
        b.add(Sprite(maker(b.kit(DRONE), b.rng), origin, drift, heading, b.upright))


def horizon_row(camera: Camera, x: float) -> float:
    """Image row of the horizon in column x (rows above it look at the sky)."""
    rows = np.arange(camera.height, dtype=float)
    _, _, dz = camera.rays(np.full_like(rows, x), rows)
    below = np.nonzero(dz < 0)[0]
    return float(below[0]) if len(below) else float(camera.height)


def add_backdrop(b: Builder) -> None:
    """A treeline or skyline at the far edge of the ground, hiding the ground's far end."""
    camera, distance = b.camera, b.regions.backdrop_distance
    forward = unit(camera.rotation[2][:2])
    side = np.array([forward[1], -forward[0]])
    half = distance * camera.width / camera.focal
    s = np.arange(-half, half, 3.0)
    base = camera.position[:2] + forward * distance + np.outer(s, side)
    horizon = horizon_row(camera, camera.width / 2)
    ceiling = camera.position[2] + 0.5 * horizon * distance / camera.focal
    dry = b.ground.water_level_at(base) <= 0
    town = b.kind == "urban" or (b.kind == "coast" and b.rng.random() < 0.5)
    if town and b.shows("construction"):
        pieces = skyline(b, base, distance, ceiling, dry)
    else:
        pieces = treeline(b, base, distance, ceiling, dry)
    b.add(Backdrop(tuple(pieces), np.array([*base[len(base) // 2], 0.0])))


def skyline(b: Builder, base: np.ndarray, distance: float, ceiling: float, dry) -> list:
    """Distant buildings: blocks of random width and height in a few faded colours."""
    tones = [
        b.materials.add(b.look.faded(vary(b.rng, c, 10), distance), CONSTRUCTION, texture=0.1)
        for c in ((150, 152, 158), (125, 127, 135), (170, 165, 155))
    ]
    pieces = []
    start = 0
    while start < len(base) - 1:
        stop = min(start + int(b.rng.integers(3, 10)), len(base) - 1)
        if dry[start : stop + 1].all():
            height = min(abs(b.rng.normal(16, 9)) + 6, ceiling)
            a, c = base[start], base[stop]
            wall = np.array([[*a, 0.0], [*c, 0.0], [*c, height], [*a, height]])
            pieces.append((wall, pick(b.rng, tones)))
        start = stop
    return pieces


def treeline(b: Builder, base: np.ndarray, distance: float, ceiling: float, dry) -> list:
    """A distant wood edge with a jagged top."""
    colours = (vary(b.rng, (48, 76, 44), 6), vary(b.rng, (62, 90, 52), 6))
    material = b.materials.add(
        b.look.faded(colours[0], distance),
        VEGETATION,
        alt=b.look.faded(colours[1], distance),
        texture=0.12,
        grain=0.06,
        pattern=CANOPY,
    )
    rise = sample_points(b.tiles.broad, base, 900.0)[:, BLEND] * 4
    crowns = sample_points(b.tiles.medium, base, 160.0)[:, CROWNS] * 1.5
    heights = np.where(dry, np.clip(12 + rise + crowns, 2.0, ceiling), 0.0)
    return [(np.concatenate([flat(base), np.column_stack([base, heights])[::-1]]), material)]
