"""2-D shapes in metres or pixels: ellipses, limbs, boxes, rotations, polylines and strips."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 18):
    """Polygon approximating an ellipse centred at (cx, cy), rotated by `angle` radians."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    points = np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)
    return rotate(points, angle) + np.array([cx, cy])


def segment(start: Sequence[float], end: Sequence[float], width: float) -> np.ndarray:
    """Quad of the given width around the segment start-end (a limb, tube or stripe)."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    direction = end - start
    normal = np.array([-direction[1], direction[0]]) / max(np.hypot(*direction), 1e-9)
    half = normal * width / 2
    return np.array([start + half, end + half, end - half, start - half])


def box(u0: float, v0: float, u1: float, v1: float) -> np.ndarray:
    """Axis-aligned rectangle, counter-clockwise."""
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], float)


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    """2-D points rotated counter-clockwise by `angle` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.asarray(points, float) @ np.array([[c, s], [-s, c]])


def signed_area(polygon: np.ndarray) -> float:
    """Shoelace area, positive for counter-clockwise polygons."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def inside_convex(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points lie inside a convex polygon (either orientation)."""
    edges = np.roll(polygon, -1, axis=0) - polygon
    rel = points[:, None, :] - polygon[None]
    cross = edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0]
    return (cross >= 0).all(1) | (cross <= 0).all(1)


def polyline_at(line: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and unit tangents at arc lengths `s` along a polyline."""
    lengths = np.hypot(*np.diff(line, axis=0).T)
    cumulative = np.concatenate([[0.0], np.cumsum(lengths)])
    index = np.clip(np.searchsorted(cumulative, s, side="right") - 1, 0, len(lengths) - 1)
    tangent = (line[index + 1] - line[index]) / lengths[index, None]
    return line[index] + tangent * (s - cumulative[index])[:, None], tangent


def polyline_length(line: np.ndarray) -> float:
    """Total length of a polyline."""
    return float(np.hypot(*np.diff(line, axis=0).T).sum())


def offset_polyline(line: np.ndarray, offset: float) -> np.ndarray:
    """The polyline shifted sideways (to the left for positive offsets)."""
    direction = np.gradient(line, axis=0)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return line + offset * np.stack([-direction[:, 1], direction[:, 0]], axis=1)


def strip(line: np.ndarray, left: float, right: float) -> np.ndarray:
    """Polygon between two sideways offsets of a polyline (a road, kerb or painted line)."""
    return np.concatenate([offset_polyline(line, left), offset_polyline(line, right)[::-1]])


def heading_vector(heading: float) -> np.ndarray:
    """Unit ground vector pointing along `heading` (radians from +x)."""
    return np.array([math.cos(heading), math.sin(heading)])
