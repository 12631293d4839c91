"""The state of a world being composed: roads, placement regions per camera, and the queries
objects are placed with (what the ground is at a point, free ground, road spots)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from drone_seg.synthetic.camera import NADIR, OBLIQUE, REFERENCE_WIDTH, Camera
from drone_seg.synthetic.light import Look, Sun
from drone_seg.synthetic.materials import VEGETATION, MaterialTable
from drone_seg.synthetic.noise import NoiseTiles
from drone_seg.synthetic.raster import clip_to_quad
from drone_seg.synthetic.sampling import uniform
from drone_seg.synthetic.shapes import inside_convex, polyline_at, polyline_length
from drone_seg.synthetic.solids import Kit, counter_clockwise
from drone_seg.synthetic.world import Drawable, Ground, Overlay

# Pixels per metre (at the reference width) below which oblique views get no small objects.
MIN_OBJECT_SCALE = 13.0
BUILDING_RANGE = 220.0  # metres: buildings and trees stand up to this far from an oblique camera

# Ground-surface codes used while placing objects.
S_BARE, S_GREEN, S_FOREST, S_SHORE, S_WATER, S_ROAD, S_SIDEWALK = range(7)
LAND = (S_BARE, S_GREEN)
WALKABLE = (S_BARE, S_GREEN, S_SIDEWALK, S_SHORE)


def road_gaps(points: np.ndarray, roads: Sequence[Road], reach: float = 20.0) -> np.ndarray:
    """Distance (n, roads) from each point to each road's edge; negative on the road.

    Only segments that can come within `reach` metres of the points are examined; gaps to roads
    further away than that are reported as infinite.
    """
    lines = np.stack([road.line for road in roads])  # all centrelines have the same vertex count
    start, direction = lines[:, :-1].reshape(-1, 2), np.diff(lines, axis=1).reshape(-1, 2)
    owner = np.repeat(np.arange(len(roads)), lines.shape[1] - 1)
    centre = points.mean(0)
    spread = float(np.sqrt(((points - centre) ** 2).sum(1).max()))
    half_length = np.hypot(direction[:, 0], direction[:, 1]) / 2
    middle_distance = np.hypot(*(start + direction / 2 - centre).T)
    near = middle_distance <= spread + half_length + reach
    gaps = np.full((len(points), len(roads)), np.inf)
    if not near.any():
        return gaps
    start, direction, owner = start[near], direction[near], owner[near]
    rel = points[:, None, :] - start[None]
    t = np.clip((rel * direction).sum(-1) / (direction * direction).sum(-1), 0.0, 1.0)
    offset = rel - t[..., None] * direction
    distance = np.sqrt((offset * offset).sum(-1))
    first = np.flatnonzero(np.diff(owner, prepend=-1))
    gaps[:, owner[first]] = np.minimum.reduceat(distance, first, axis=1)
    return gaps - np.array([road.width / 2 for road in roads])


@dataclass(frozen=True)
class Road:
    """A road (or path) along a centreline, with optional pavements and lane markings."""

    line: np.ndarray
    width: float
    surface: int
    sidewalk: float = 0.0
    kerb: int | None = None
    marking: int | None = None


@dataclass(frozen=True)
class Regions:
    """First-frame ground quads: objects (near), buildings and trees (middle), layout (extent)."""

    near: np.ndarray
    middle: np.ndarray
    extent: np.ndarray
    backdrop_distance: float | None


def ground_quad(camera: Camera, top: float, bottom: float, left: float, right: float) -> np.ndarray:
    """Ground polygon seen inside the given image rectangle (rows/columns in pixels)."""
    corners = np.array([[left, bottom], [right, bottom], [right, top], [left, top]])
    return camera.ground_points(corners)


def first_row_within(camera: Camera, distance: float) -> float:
    """First image row (from the top) whose centre-column ground is at most `distance` away."""
    rows = np.nonzero(camera.ground_distance_by_row() <= distance)[0]
    return float(rows[0]) if len(rows) else float(camera.height - 1)


def view_regions(camera: Camera, view: str, rng: np.random.Generator) -> Regions:
    """Where objects, buildings and layout features go for this camera."""
    w, h = camera.width, camera.height
    if view == NADIR:
        return Regions(
            near=ground_quad(camera, 0.03 * h, 0.97 * h, 0.02 * w, 0.98 * w),
            middle=ground_quad(camera, -0.3 * h, 1.3 * h, -0.3 * w, 1.3 * w),
            extent=ground_quad(camera, -0.8 * h, 1.8 * h, -0.8 * w, 1.8 * w),
            backdrop_distance=None,
        )
    min_scale = MIN_OBJECT_SCALE * w / REFERENCE_WIDTH
    backdrop = uniform(rng, 240.0, 450.0)
    near_top = first_row_within(camera, camera.focal / min_scale)
    middle_top = first_row_within(camera, BUILDING_RANGE)
    extent_top = first_row_within(camera, backdrop + 80.0)
    return Regions(
        near=ground_quad(camera, near_top, 0.98 * h, 0.02 * w, 0.98 * w),
        middle=ground_quad(camera, middle_top, 0.72 * h, -0.2 * w, 1.2 * w),
        extent=ground_quad(camera, extent_top, 1.5 * h, -0.6 * w, 1.6 * w),
        backdrop_distance=backdrop,
    )


@dataclass
class Builder:
    """Mutable state while composing one sequence's world, with placement queries."""

    rng: np.random.Generator
    view: str
    kind: str
    cameras: list[Camera]
    materials: MaterialTable
    sun: Sun
    look: Look
    tiles: NoiseTiles
    regions: Regions
    cast: frozenset[str]  # the classes this flight shows (`cast.CAST_CLASSES`)
    ground: Ground | None = None
    roads: list[Road] = field(default_factory=list)
    lots: list[np.ndarray] = field(default_factory=list)
    fields: list[Overlay] = field(default_factory=list)
    overlays: list[Overlay] = field(default_factory=list)
    drawables: list[Drawable] = field(default_factory=list)
    occupied: list[tuple[float, float, float]] = field(default_factory=list)
    sampled_roads: tuple | None = None  # cache of `road_samples`, with the roads it was made for

    @property
    def camera(self) -> Camera:
        """The first frame's camera, used for layout decisions."""
        return self.cameras[0]

    def image_heading(self, spread: float = 0.4) -> float:
        """A heading (either way) near the ground direction of the first frame's vertical image
        axis, so that people and bikes stand taller than wide in the image, as in AeroScapes."""
        axis = self.camera.rotation[2 if self.upright else 1]
        turn = np.pi * (self.rng.random() < 0.5) + self.rng.normal(0.0, spread)
        return math.atan2(axis[1], axis[0]) + turn

    def image_offset(self, down: float, across: float) -> np.ndarray:
        """A ground offset with standard deviations `down` and `across` the first frame's image."""
        right = self.camera.rotation[0][:2] / np.hypot(*self.camera.rotation[0][:2])
        up = np.array([-right[1], right[0]])
        return right * self.rng.normal(0, across) + up * self.rng.normal(0, down)

    def in_view(self, points: np.ndarray) -> np.ndarray:
        """Which ground points (n, 2) the first frame sees, at most BUILDING_RANGE away."""
        ground = np.column_stack([points, np.zeros(len(points))])
        camera = self.camera.to_camera(ground)
        x, y = self.camera.to_image(camera).T
        inside = (x >= 0) & (x < self.camera.width) & (y >= 0) & (y < self.camera.height)
        return inside & (camera[:, 2] > 1.0) & (camera[:, 2] <= BUILDING_RANGE)

    def shows(self, name: str) -> bool:
        """Whether this flight was given the class `name`."""
        return name in self.cast

    @property
    def upright(self) -> bool:
        """Whether figures are seen from the side (oblique) rather than from above (nadir)."""
        return self.view == OBLIQUE

    def kit(self, class_id: int, where: np.ndarray | None = None) -> Kit:
        """Material and face maker for an object of a class standing at a ground point."""
        distance = 0.0 if where is None else self.distance(where)
        return Kit(self.materials, self.sun, self.look, class_id, distance)

    def distance(self, point: np.ndarray) -> float:
        """Camera depth of a ground point in the first frame."""
        return max(self.camera.depth(np.array([point[0], point[1], 0.0])), 1.0)

    def sample(self, quad: np.ndarray, count: int) -> np.ndarray:
        """Uniform random ground points inside a convex quad."""
        low, high = quad.min(0), quad.max(0)
        points = self.rng.uniform(low, high, (count * 4 + 16, 2))
        return points[inside_convex(points, quad)][:count]

    def surface(self, points: np.ndarray) -> np.ndarray:
        """What the ground is at points: one of the S_* codes."""
        landscape = self.ground.landscape_at(points)
        base = self.ground.base_materials(landscape)
        codes = np.where(self.materials.class_ids()[base] == VEGETATION, S_GREEN, S_BARE)
        codes[self.ground.forested(landscape)] = S_FOREST
        level = self.ground.water_level(points[:, 0], points[:, 1], landscape)
        if self.ground.water is not None:
            codes[level > -self.ground.water.shore] = S_SHORE
        codes[level > 0] = S_WATER
        for lot in self.lots:
            codes[inside_convex(points, lot)] = S_ROAD
        if self.roads:
            gap = road_gaps(points, self.roads)
            pavement = np.array([r.sidewalk for r in self.roads])
            codes[((gap >= 0) & (gap < pavement)).any(1)] = S_SIDEWALK
            codes[(gap < 0).any(1)] = S_ROAD
        return codes

    def free(self, point: np.ndarray, radius: float) -> bool:
        """Whether a disc on the ground overlaps nothing placed so far."""
        return all(
            math.hypot(point[0] - x, point[1] - y) >= radius + r for x, y, r in self.occupied
        )

    def claim(self, point: np.ndarray, radius: float) -> None:
        """Reserve a disc of ground."""
        self.occupied.append((float(point[0]), float(point[1]), radius))

    def claim_path(self, point: np.ndarray, radius: float, velocity: np.ndarray) -> bool:
        """Reserve the ground an object sweeps over the sequence, if it is free."""
        travel = velocity * (len(self.cameras) - 1)
        centre, reach = point + travel / 2, radius + float(np.hypot(*travel)) / 2
        if not self.free(centre, reach):
            return False
        self.claim(centre, reach)
        return True

    def spots(
        self, count: int, radius: float, surfaces: Sequence[int], quad: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """Up to `count` free points on the given surfaces, each claiming a disc."""
        candidates = self.sample(self.regions.near if quad is None else quad, count * 40 + 40)
        if len(candidates) == 0:
            return []
        allowed = np.isin(self.surface(candidates), surfaces)
        found = []
        for point in candidates[allowed]:
            if len(found) == count:
                break
            if self.free(point, radius):
                self.claim(point, radius)
                found.append(point)
        return found

    def road_spots(self, count: int, quad: np.ndarray) -> list[tuple[Road, np.ndarray, np.ndarray]]:
        """Random (road, point, tangent) samples on road centrelines inside a quad."""
        owner, points, tangents = self.road_samples()
        inside = np.flatnonzero(inside_convex(points, quad))
        chosen = self.rng.permutation(inside)[:count]
        return [(self.roads[owner[i]], points[i], tangents[i]) for i in chosen]

    def road_samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Road index, point and tangent every 1.5 m along the roads, within the layout extent."""
        if self.sampled_roads is None or len(self.sampled_roads[0]) != len(self.roads):
            owners, points, tangents = [np.zeros(0, int)], [np.zeros((0, 2))], [np.zeros((0, 2))]
            for index, road in enumerate(self.roads):
                p, t = polyline_at(road.line, np.arange(0.0, polyline_length(road.line), 1.5))
                keep = inside_convex(p, self.regions.extent)
                owners.append(np.full(keep.sum(), index))
                points.append(p[keep])
                tangents.append(t[keep])
            samples = tuple(np.concatenate(part) for part in (owners, points, tangents))
            self.sampled_roads = (tuple(self.roads), samples)
        return self.sampled_roads[1]

    def add(self, drawable: Drawable) -> None:
        """Put an object into the world."""
        self.drawables.append(drawable)

    def overlay(
        self, material: int, polygons: Sequence[np.ndarray], disjoint: bool
    ) -> list[Overlay]:
        """Ground polygons cut to the layout extent (nothing beyond it is ever seen).

        Small polygons (dashes, field plots) wholly outside are dropped without clipping.
        """
        if not polygons:
            return []
        extent = counter_clockwise(self.regions.extent)
        sizes = np.array([len(p) for p in polygons])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        inside = np.add.reduceat(inside_convex(np.concatenate(polygons), extent), starts)
        kept = []
        for polygon, count, size in zip(polygons, inside, sizes, strict=True):
            if count == size:
                kept.append(polygon)
            elif count or np.ptp(polygon, axis=0).max() > 60.0:
                cut = clip_to_quad(polygon, extent)
                kept += [cut] if len(cut) >= 3 else []
        return [Overlay(material, tuple(kept), disjoint)] if kept else []
