"""Rasterisation: world polygons projected, clipped to the view and filled in fixed point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from drone_seg.synthetic.camera import Camera

SUBPIXEL_BITS = 4  # fixed-point fraction bits for polygon vertices
NEAR_PLANE = 0.25  # metres: geometry closer to the camera is clipped

VIEW_MARGIN = 16.0  # pixels: polygons are clipped this far outside the image

SHADOW, FOAM = 1, 2  # ground shading codes; 0 leaves the ground as it is


def to_fixed(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates as int32 fixed point for OpenCV's sub-pixel polygon filling."""
    return np.rint(points * (1 << SUBPIXEL_BITS)).astype(np.int32)


def clip_polygon(points: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """The part of a 3-D polygon where points @ normal + offset >= 0 (a Sutherland-Hodgman step)."""
    distance = points @ normal + offset
    inside = distance >= 0
    if inside.all() or not inside.any():
        return points if inside.all() else points[:0]
    following = np.concatenate([points[1:], points[:1]])
    following_distance = np.concatenate([distance[1:], distance[:1]])
    crossing = inside != (following_distance >= 0)
    t = np.where(crossing, distance / np.where(crossing, distance - following_distance, 1.0), 0.0)
    cut = points + t[:, None] * (following - points)
    return np.stack([points, cut], 1)[np.stack([inside, crossing], 1)]


def view_planes(camera: Camera) -> list[tuple[np.ndarray, float]]:
    """Camera-space half-spaces of the viewing frustum (with a margin) and the near plane."""
    cx, cy = camera.principal_point
    margin, f = VIEW_MARGIN, camera.focal
    return [
        (np.array([0.0, 0.0, 1.0]), -NEAR_PLANE),
        (np.array([1.0, 0.0, (cx + margin) / f]), 0.0),
        (np.array([-1.0, 0.0, (camera.width - 1 - cx + margin) / f]), 0.0),
        (np.array([0.0, 1.0, (cy + margin) / f]), 0.0),
        (np.array([0.0, -1.0, (camera.height - 1 - cy + margin) / f]), 0.0),
    ]


def clip_to_view(camera: Camera, points: np.ndarray) -> np.ndarray:
    """Camera-space polygon cut to the viewing frustum, so its projection stays near the image."""
    for normal, offset in view_planes(camera):
        points = clip_polygon(points, normal, offset)
        if len(points) < 3:
            return points[:0]
    return points


def project_outlines(camera: Camera, polygons: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Fixed-point image outlines of world polygons (each (n, 3)), clipped to the view.

    The result lines up with `polygons`; a polygon wholly out of view gives an empty outline.
    """
    if not polygons:
        return []
    sizes = np.array([len(p) for p in polygons])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    points = camera.to_camera(np.concatenate(polygons))
    depth = points[:, 2].copy()
    image = camera.to_image(np.column_stack([points[:, :2], np.maximum(depth, NEAR_PLANE)]))
    limit = 2.0 * (camera.width + camera.height)
    low = np.minimum.reduceat(image.min(1), starts)
    high = np.maximum.reduceat(image.max(1), starts)
    tame = (np.minimum.reduceat(depth, starts) >= NEAR_PLANE) & (low > -limit) & (high < limit)
    fixed = to_fixed(image)
    outlines = []
    for start, size, ok in zip(starts, sizes, tame, strict=True):
        if ok:
            outlines.append(fixed[start : start + size])
            continue
        clipped = clip_to_view(camera, points[start : start + size])
        outlines.append(to_fixed(camera.to_image(clipped)) if len(clipped) else empty_outline())
    return outlines


def empty_outline() -> np.ndarray:
    """An outline with no vertices (a polygon out of view)."""
    return np.zeros((0, 2), np.int32)


def clip_to_quad(polygon: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The part of a 2-D polygon inside a convex, counter-clockwise quad."""
    for start, end in zip(quad, np.roll(quad, -1, 0), strict=True):
        normal = np.array([start[1] - end[1], end[0] - start[0]])
        polygon = clip_polygon(polygon, normal, -float(normal @ start))
        if len(polygon) < 3:
            break
    return polygon


def flat(polygon: np.ndarray, z: float = 0.0) -> np.ndarray:
    """A 2-D ground polygon lifted to 3-D at height z."""
    return np.column_stack([polygon, np.full(len(polygon), z)])


@dataclass
class Canvas:
    """The raster targets of one frame: material indices and ground shading codes."""

    camera: Camera
    material: np.ndarray
    shade: np.ndarray

    def paint(self, outlines: Sequence[np.ndarray], material: int) -> None:
        """Fill convex fixed-point outlines with a material."""
        for outline in outlines:
            if len(outline) >= 3:
                cv2.fillConvexPoly(self.material, outline, material, shift=SUBPIXEL_BITS)

    def paint_area(self, outlines: Sequence[np.ndarray], material: int) -> None:
        """Fill non-overlapping, possibly concave outlines with a material in one call."""
        shown = [outline for outline in outlines if len(outline) >= 3]
        if shown:
            cv2.fillPoly(self.material, shown, material, shift=SUBPIXEL_BITS)

    def mark(self, outlines: Sequence[np.ndarray], code: int) -> None:
        """Set a ground shading code (shadow, foam) inside outlines, one call per outline."""
        for outline in outlines:
            if len(outline) >= 3:
                cv2.fillPoly(self.shade, [outline], code, shift=SUBPIXEL_BITS)
