"""What a world is made of: the ground model, flat overlays and drawable objects (solids,
sprites, backdrops), and the world of one sequence."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from drone_seg.synthetic.camera import Camera
from drone_seg.synthetic.light import Look, Sun
from drone_seg.synthetic.materials import Palette
from drone_seg.synthetic.noise import (
    BROAD_PERIOD,
    PATCHES,
    WOBBLE,
    WOODS,
    NoiseTiles,
    sample_points,
    sample_tile,
)
from drone_seg.synthetic.raster import FOAM, SHADOW, Canvas, flat, project_outlines, to_fixed
from drone_seg.synthetic.shapes import heading_vector


@dataclass(frozen=True)
class Water:
    """A coast, river or lake: signed distance to its (noisy) shore, positive on the water."""

    kind: str
    point: np.ndarray
    normal: np.ndarray
    size: float  # river half-width or lake radius (metres)
    wobble: float  # metres of noisy shore displacement
    shore: float  # width of the beach/bank band
    water_material: int
    shore_material: int

    def level(self, x: np.ndarray, y: np.ndarray, wobble: np.ndarray) -> np.ndarray:
        """Signed metres from the shoreline (positive on the water) at world points."""
        noise = wobble * self.wobble
        if self.kind == "lake":
            radius = self.size * (1 + 0.06 * noise)
            return radius - np.hypot(x - self.point[0], y - self.point[1])
        across = (x - self.point[0]) * self.normal[0] + (y - self.point[1]) * self.normal[1]
        if self.kind == "river":
            return self.size - np.abs(across + noise)
        return across + noise


@dataclass(frozen=True)
class Ground:
    """Land cover as functions of world position: base patches, woods and water.

    `landscape` is the broad noise (4 channels) at the points being asked about; per-pixel and
    per-point queries go through the same lookup, so placement agrees with what is drawn.
    """

    tiles: NoiseTiles
    scale: float  # land-cover features are this many times smaller than BROAD_PERIOD
    base: tuple[int, int, int]
    thresholds: tuple[float, float]
    forest: int | None
    forest_threshold: float
    water: Water | None

    def landscape(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Broad noise channels (..., 4) at world points."""
        return sample_tile(self.tiles.broad, x, y, BROAD_PERIOD / self.scale)

    def landscape_at(self, points: np.ndarray) -> np.ndarray:
        """Broad noise channels (n, 4) at a short list of points."""
        return sample_points(self.tiles.broad, points, BROAD_PERIOD / self.scale)

    def base_materials(self, landscape: np.ndarray) -> np.ndarray:
        """Base land-cover material (e.g. dirt / grass / dry grass patches)."""
        noise = landscape[..., PATCHES]
        low, high = self.thresholds
        return np.where(
            noise < low, self.base[0], np.where(noise < high, self.base[1], self.base[2])
        ).astype(np.uint16)

    def forested(self, landscape: np.ndarray) -> np.ndarray:
        """Where woodland covers the ground."""
        if self.forest is None:
            return np.zeros(landscape.shape[:-1], bool)
        return landscape[..., WOODS] > self.forest_threshold

    def water_level(self, x: np.ndarray, y: np.ndarray, landscape: np.ndarray) -> np.ndarray:
        """Signed metres from the shore (positive on water); very negative without water."""
        if self.water is None:
            return np.full(np.shape(x), -1e6, np.float32)
        return self.water.level(x, y, landscape[..., WOBBLE])

    def water_level_at(self, points: np.ndarray) -> np.ndarray:
        """`water_level` at a short list of points."""
        return self.water_level(points[:, 0], points[:, 1], self.landscape_at(points))

    def cover(self, material: np.ndarray, x: np.ndarray, y: np.ndarray, landscape) -> None:
        """Paint woodland, shores and water over the base cover and fields, in place."""
        if self.forest is not None:
            material[self.forested(landscape)] = self.forest
        if self.water is not None:
            level = self.water_level(x, y, landscape)
            material[level > -self.water.shore] = self.water.shore_material
            material[level > 0] = self.water.water_material


@dataclass(frozen=True)
class Overlay:
    """Flat ground polygons painted with one material (fields, roads, markings, lots)."""

    material: int
    polygons: tuple[np.ndarray, ...]  # world (n, 2)
    disjoint: bool  # the polygons never overlap, so they can be filled in one call

    def draw(self, canvas: Canvas) -> None:
        """Project and fill the polygons."""
        outlines = project_outlines(canvas.camera, [flat(p) for p in self.polygons])
        if self.disjoint:
            canvas.paint_area(outlines, self.material)
        else:
            for outline in outlines:
                canvas.paint_area([outline], self.material)


class Drawable(Protocol):
    """Anything drawn over the ground, far to near."""

    def depth(self, camera: Camera, frame: int) -> float: ...

    def draw_shadow(self, canvas: Canvas, frame: int) -> None: ...

    def draw(self, canvas: Canvas, frame: int) -> None: ...


@dataclass(frozen=True)
class Face:
    """A planar convex face of a solid, relative to the solid's origin, with its material."""

    points: np.ndarray
    normal: np.ndarray
    material: int
    details: tuple[np.ndarray, ...] = ()  # convex polygons painted on the face (windows)
    detail_material: int = 0


@dataclass(frozen=True)
class Solid:
    """A rigid object made of convex parts with flat faces: buildings, cars, boats, obstacles.

    Faces are listed part by part; within a convex part the faces turned towards the camera never
    overlap, and later parts (a cabin, rooftop boxes) sit on top of earlier ones.
    """

    faces: tuple[Face, ...]
    origin: np.ndarray  # world position at frame 0
    velocity: np.ndarray  # metres per frame
    shadow: np.ndarray | None  # ground polygon of the cast shadow, relative to the origin
    wake: np.ndarray | None = None  # ground polygon of foam behind a moving boat

    @cached_property
    def centres(self) -> np.ndarray:
        """Face centres (F, 3)."""
        return np.array([f.points.mean(0) for f in self.faces])

    @cached_property
    def normals(self) -> np.ndarray:
        """Outward face normals (F, 3)."""
        return np.array([f.normal for f in self.faces])

    def position(self, frame: int) -> np.ndarray:
        """World position in a frame."""
        return self.origin + frame * self.velocity

    def depth(self, camera: Camera, frame: int) -> float:
        """Camera depth of the origin, for far-to-near ordering."""
        return camera.depth(self.position(frame))

    def draw_shadow(self, canvas: Canvas, frame: int) -> None:
        """Mark the wake and the cast shadow on the ground."""
        ground = self.position(frame)[:2]
        if self.wake is not None:
            canvas.mark(project_outlines(canvas.camera, [flat(self.wake + ground)]), FOAM)
        if self.shadow is not None:
            canvas.mark(project_outlines(canvas.camera, [flat(self.shadow + ground)]), SHADOW)

    def draw(self, canvas: Canvas, frame: int) -> None:
        """Paint the faces (and their windows) that look towards the camera, in order."""
        position = self.position(frame)
        facing = ((canvas.camera.position - position - self.centres) * self.normals).sum(1) > 1e-6
        polygons, materials = [], []
        for face in (f for f, visible in zip(self.faces, facing, strict=True) if visible):
            polygons += [face.points + position, *(d + position for d in face.details)]
            materials += [face.material] + [face.detail_material] * len(face.details)
        outlines = project_outlines(canvas.camera, polygons)
        for outline, material in zip(outlines, materials, strict=True):
            canvas.paint([outline], material)


@dataclass(frozen=True)
class Sprite:
    """A flat figure (person, bike, animal, tree, drone) built from convex shapes in metres.

    Upright sprites stand in a vertical plane facing the camera (u forward along the heading, v up);
    lying sprites are drawn in a horizontal plane at the origin's height (u forward, v left), as a
    camera looking straight down sees them.
    """

    shapes: tuple[tuple[np.ndarray, int], ...]
    origin: np.ndarray
    velocity: np.ndarray
    heading: float
    upright: bool
    shadow: tuple[np.ndarray, ...] = ()  # ground polygons relative to the origin
    depth_bias: float = 0.0  # metres; positive draws later (a rider after the bike)

    @cached_property
    def outline_points(self) -> tuple[np.ndarray, np.ndarray]:
        """All shape vertices stacked (N, 2) and the split indices between shapes."""
        sizes = np.cumsum([len(shape) for shape, _ in self.shapes])[:-1]
        return np.concatenate([shape for shape, _ in self.shapes]), sizes

    def position(self, frame: int) -> np.ndarray:
        """World position in a frame."""
        return self.origin + frame * self.velocity

    def depth(self, camera: Camera, frame: int) -> float:
        """Camera depth of the origin, for far-to-near ordering."""
        return camera.depth(self.position(frame)) - self.depth_bias

    def draw_shadow(self, canvas: Canvas, frame: int) -> None:
        """Mark the ground shadow."""
        if self.shadow:
            ground = self.position(frame)[:2]
            outlines = project_outlines(canvas.camera, [flat(p + ground) for p in self.shadow])
            canvas.mark(outlines, SHADOW)

    def axes(self, camera: Camera, position: np.ndarray) -> np.ndarray:
        """Image origin and image vectors of one metre along u and v (3, 2)."""
        forward = np.array([*heading_vector(self.heading), 0.0])
        second = (
            np.array([0.0, 0.0, 1.0]) if self.upright else np.array([-forward[1], forward[0], 0])
        )
        origin, along, across = camera.project(
            np.stack([position, position + forward, position + second])
        )
        if not self.upright:
            return np.stack([origin, along - origin, across - origin])
        up = across - origin
        right = np.array([-up[1], up[0]])
        if float((along - origin) @ right) < 0:
            right = -right
        return np.stack([origin, right, up])

    def draw(self, canvas: Canvas, frame: int) -> None:
        """Paint the shapes with an affine map from sprite metres to pixels."""
        position = self.position(frame)
        if canvas.camera.depth(position) < 1.0:
            return
        points, splits = self.outline_points
        origin, axis_u, axis_v = self.axes(canvas.camera, position)
        fixed = to_fixed(points @ np.stack([axis_u, axis_v]) + origin)
        for outline, (_, material) in zip(np.split(fixed, splits), self.shapes, strict=True):
            canvas.paint([outline], material)


@dataclass(frozen=True)
class Backdrop:
    """A distant vertical silhouette on the horizon (treeline or skyline)."""

    pieces: tuple[tuple[np.ndarray, int], ...]  # world outlines (n, 3) and their materials
    origin: np.ndarray

    def depth(self, camera: Camera, frame: int) -> float:
        """Camera depth of the silhouette's middle."""
        return camera.depth(self.origin)

    def draw_shadow(self, canvas: Canvas, frame: int) -> None:
        """Too far away for visible shadows."""

    def draw(self, canvas: Canvas, frame: int) -> None:
        """Fill the silhouette pieces."""
        for outline, material in self.pieces:
            canvas.paint_area(project_outlines(canvas.camera, [outline]), material)


@dataclass(frozen=True)
class World:
    """Everything one sequence shows, and the cameras that film it."""

    cameras: list[Camera]
    palette: Palette
    ground: Ground
    fields: tuple[Overlay, ...]  # painted before woodland and water
    overlays: tuple[Overlay, ...]  # painted after: lots, pavements, roads, markings
    drawables: tuple[Drawable, ...]
    look: Look
    sun: Sun
