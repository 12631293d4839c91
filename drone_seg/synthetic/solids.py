"""Solids from footprints: lit faces, prisms, shadows, and placing parts in the world."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from drone_seg.synthetic.light import Look, Sun
from drone_seg.synthetic.materials import MaterialTable
from drone_seg.synthetic.raster import flat
from drone_seg.synthetic.shapes import rotate, signed_area
from drone_seg.synthetic.world import Face, Solid


def counter_clockwise(polygon: np.ndarray) -> np.ndarray:
    """The polygon with counter-clockwise vertex order."""
    polygon = np.asarray(polygon, float)
    return polygon if signed_area(polygon) > 0 else polygon[::-1]


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross is slow for single vectors)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def unit(vector: np.ndarray) -> np.ndarray:
    """Vector scaled to length one."""
    return vector / np.linalg.norm(vector)


UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Kit:
    """Makes the materials and faces of one object: its class, the light and its haze distance."""

    materials: MaterialTable
    sun: Sun
    look: Look
    class_id: int
    distance: float = 0.0

    def lit(self, colour, normal: np.ndarray, **options) -> int:
        """Material of a surface with this outward normal, lit by the sun and faded by haze."""
        shaded = np.asarray(colour) * self.sun.brightness(normal)
        return self.materials.add(self.look.faded(shaded, self.distance), self.class_id, **options)

    def paint(self, colour, **options) -> int:
        """Material of a flat figure's shape (lit as a surface facing up)."""
        return self.lit(colour, UP, **options)

    def face(self, points: np.ndarray, colour) -> Face:
        """A planar face (counter-clockwise seen from outside) in a lit colour."""
        normal = unit(cross(points[1] - points[0], points[2] - points[0]))
        return Face(points, normal, self.lit(colour, normal))

    def prism(self, bottom, z0: float, z1: float, colour, top_colour=None, top=None):
        """Faces of a vertical prism (or a frustum when `top` differs) over a convex footprint."""
        bottom = counter_clockwise(bottom)
        lower = flat(bottom, z0)
        upper = flat(bottom if top is None else counter_clockwise(top), z1)
        following = np.roll(np.arange(len(bottom)), -1)
        sides = [
            self.face(np.array([lower[i], lower[j], upper[j], upper[i]]), colour)
            for i, j in enumerate(following)
        ]
        lid = Face(upper, UP, self.lit(colour if top_colour is None else top_colour, UP))
        return (*sides, lid)


def shadow_of(faces: Sequence[Face], sun: Sun) -> np.ndarray:
    """Ground polygon (convex hull) of the shadow a solid casts, relative to its origin."""
    points = np.concatenate([face.points for face in faces])
    cast = points[:, :2] + np.outer(points[:, 2], sun.shadow_offset(1.0))
    hull = cv2.convexHull(cast.astype(np.float32))
    return hull[:, 0, :].astype(float)


def turned(face: Face, rotation: np.ndarray) -> Face:
    """The face rotated by a 3x3 rotation matrix."""
    details = tuple(d @ rotation.T for d in face.details)
    return Face(
        face.points @ rotation.T,
        face.normal @ rotation.T,
        face.material,
        details,
        face.detail_material,
    )


def solid(
    parts: Sequence[Sequence[Face]],
    where: np.ndarray,
    heading: float,
    sun: Sun,
    velocity: np.ndarray | None = None,
    wake: np.ndarray | None = None,
) -> Solid:
    """Place local-frame parts at a ground point with a heading; shadow computed from the sun."""
    c, s = math.cos(heading), math.sin(heading)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    faces = tuple(turned(face, rotation) for part in parts for face in part)
    move = np.zeros(3) if velocity is None else np.array([*velocity, 0.0])
    wake = None if wake is None else rotate(wake, heading)
    return Solid(faces, np.array([*where, 0.0]), move, shadow_of(faces, sun), wake)
