"""Procedural drone-footage-like scenes in the AeroScapes layout: the offline demo and test dataset.

Each sequence is a small 3-D world in metres (ground with land cover, water, roads and fields;
buildings, vehicles, boats, people, bikes, animals, obstacles, trees; drones in the sky) seen by a
pinhole camera that drifts a little from frame to frame, either oblique (horizon and sky at the top,
perspective) or nadir (straight down). A frame is rasterised once into a per-pixel *material* map;
the RGB image and the class mask are both derived from that one map, so every mask pixel is exactly
a pixel the object covers in the image (blur, noise and JPEG only touch the image).

    python -m drone_seg.data.synthetic --out data/synthetic --num-images 400 --seed 0
"""

from __future__ import annotations

import argparse
import colorsys
import math
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple, Protocol

import cv2
import numpy as np

from drone_seg.classes import CLASS_NAMES

# Class ids looked up by name, so the masks follow `drone_seg.classes` whatever its order.
CLASS_ID = {name: index for index, name in enumerate(CLASS_NAMES)}
BACKGROUND, PERSON, BIKE = CLASS_ID["background"], CLASS_ID["person"], CLASS_ID["bike"]
CAR, DRONE, BOAT = CLASS_ID["car"], CLASS_ID["drone"], CLASS_ID["boat"]
ANIMAL, OBSTACLE, CONSTRUCTION = CLASS_ID["animal"], CLASS_ID["obstacle"], CLASS_ID["construction"]
VEGETATION, ROAD, SKY = CLASS_ID["vegetation"], CLASS_ID["road"], CLASS_ID["sky"]

IMAGES_DIR = "JPEGImages"
MASKS_DIR = "SegmentationClass"
SPLITS_DIR = "ImageSets"
JPEG_QUALITY = 92
VAL_FRACTION = 0.2

OBLIQUE, NADIR = "oblique", "nadir"
OBLIQUE_SHARE = 0.6
SCENE_KINDS = ("urban", "park", "rural", "coast")
SCENE_WEIGHTS = (0.3, 0.27, 0.23, 0.2)

REFERENCE_WIDTH = 480  # camera scales (pixels per metre) are tuned at this width
# Pixels per metre (at the reference width) below which oblique views get no small objects.
MIN_OBJECT_SCALE = 13.0
BUILDING_RANGE = 220.0  # metres: buildings and trees stand up to this far from an oblique camera
TILE = 256  # side of the tileable noise fields
SUBPIXEL_BITS = 4  # fixed-point fraction bits for polygon vertices
NEAR_PLANE = 0.25  # metres: geometry closer to the camera is clipped
FAR_LIMIT = 6000.0  # metres: rays meeting the ground further away count as sky
LAYOUT_LIMIT = 1200.0  # metres: the laid-out world (roads, fields) ends this far from the camera
VIEW_MARGIN = 16.0  # pixels: polygons are clipped this far outside the image
CLOUD_HEIGHT = 1500.0

SHADOW, FOAM = 1, 2  # ground shading codes; 0 leaves the ground as it is
SKY_MATERIAL = 0  # the first material of every sequence
CROWN_CONTRAST = 0.2  # texture amplitude of tree crowns on canopy materials
PLAIN, ROWS, WATER, CANOPY = range(4)

# Ground-surface codes used while placing objects.
S_BARE, S_GREEN, S_FOREST, S_SHORE, S_WATER, S_ROAD, S_SIDEWALK = range(7)
LAND = (S_BARE, S_GREEN)
WALKABLE = (S_BARE, S_GREEN, S_SIDEWALK, S_SHORE)


# --------------------------------------------------------------------------------------------
# Small helpers: randomness, colours, 2-D shapes
# --------------------------------------------------------------------------------------------


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """One uniform draw as a Python float."""
    return float(rng.uniform(low, high))


def pick(rng: np.random.Generator, options: Sequence):
    """One element of `options`, uniformly."""
    return options[int(rng.integers(len(options)))]


def vary(rng: np.random.Generator, colour: Sequence[float], spread: float = 10.0) -> np.ndarray:
    """`colour` (RGB 0..255) with independent Gaussian jitter per channel."""
    return np.clip(np.asarray(colour, float) + rng.normal(0.0, spread, 3), 0.0, 255.0)


def hsv(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]):
    """A random-hue RGB colour with saturation and value drawn from the given ranges."""
    rgb = colorsys.hsv_to_rgb(rng.random(), uniform(rng, *saturation), uniform(rng, *value))
    return np.array(rgb) * 255.0


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


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------


class Spectrum(NamedTuple):
    """Shape of a noise field's spectrum: a 1/f**beta fall-off, or a band around `peak` (cycles
    per texel) for blobs of one size; `stretch` > 1 elongates features along x (ripples)."""

    beta: float = 2.0
    stretch: float = 1.0
    peak: float | None = None


@lru_cache(maxsize=32)
def spectrum_amplitude(spectrum: Spectrum, size: int) -> np.ndarray:
    """Amplitude of each rfft2 frequency bin for a spectrum shape."""
    freq_y = np.fft.fftfreq(size)[:, None]
    freq_x = np.fft.rfftfreq(size)[None, :] * spectrum.stretch
    radius = np.hypot(freq_x, freq_y)
    radius[0, 0] = np.inf
    if spectrum.peak is None:
        return radius ** (-spectrum.beta / 2)
    return np.exp(-(((radius - spectrum.peak) / (0.5 * spectrum.peak)) ** 2))


def noise_fields(rng: np.random.Generator, spectra: Sequence[Spectrum], size: int = TILE):
    """Tileable noise fields (size, size, channels), each with zero mean and unit variance."""
    white = np.fft.rfft2(rng.standard_normal((len(spectra), size, size)))
    shaped = white * np.stack([spectrum_amplitude(s, size) for s in spectra])
    noise = np.fft.irfft2(shaped, s=(size, size))
    noise -= noise.mean(axis=(1, 2), keepdims=True)
    noise /= noise.std(axis=(1, 2), keepdims=True)
    return np.ascontiguousarray(np.moveaxis(noise, 0, -1), dtype=np.float32)


BROAD_PERIOD, MEDIUM_PERIOD, CLOUD_PERIOD = 500.0, 40.0, 9000.0
PATCHES, WOODS, BLEND, WOBBLE = range(4)  # channels of the broad (landscape) noise
CLUMPS, CROWNS, RIPPLES, GRAIN = range(4)  # channels of the medium (surface detail) noise


@dataclass(frozen=True)
class NoiseTiles:
    """Tileable noise fields, sampled at world coordinates so textures stick to the world."""

    broad: np.ndarray  # 4 smooth channels: land-cover patches, woods, colour blend, shore wobble
    medium: np.ndarray  # 4 channels: clumps, tree crowns, water ripples, grain
    cloud: np.ndarray


def make_tiles(rng: np.random.Generator) -> NoiseTiles:
    """Draw the noise fields of one sequence."""
    crowns = Spectrum(peak=MEDIUM_PERIOD / 3.0 / TILE)  # 3 m tree crowns
    ripples = Spectrum(stretch=4.0, peak=MEDIUM_PERIOD / 1.5 / TILE)
    smooth = [Spectrum(3.2), Spectrum(3.2), Spectrum(2.6), Spectrum(3.0)]
    return NoiseTiles(
        broad=noise_fields(rng, smooth, TILE // 2),  # smooth fields need few texels
        medium=noise_fields(rng, [Spectrum(2.0), crowns, ripples, Spectrum(0.6)]),
        cloud=noise_fields(rng, [Spectrum(3.4)], TILE // 2)[..., 0],
    )


def sample_tile(tile: np.ndarray, x: np.ndarray, y: np.ndarray, period: float) -> np.ndarray:
    """Bilinear, wrapping lookup of a noise tile at 2-D world coordinates; one tile = `period` m."""
    size = tile.shape[0]
    map_x, map_y = wrap(x * (size / period), size), wrap(y * (size / period), size)
    return cv2.remap(tile, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def wrap(texels: np.ndarray, size: int) -> np.ndarray:
    """Texel coordinates folded into [0, size) for a power-of-two tile (OpenCV's fast path)."""
    whole = np.floor(texels)
    return ((whole.astype(np.int64) & (size - 1)) + (texels - whole)).astype(np.float32)


def sample_points(tile: np.ndarray, points: np.ndarray, period: float) -> np.ndarray:
    """`sample_tile` at a list of (x, y) points (laid out in rows for OpenCV's size limits)."""
    count = len(points)
    if count == 0:
        return np.zeros((0, *tile.shape[2:]), np.float32)
    width = min(count, 4096)
    rows = -(-count // width)
    grid = np.zeros((rows * width, 2))
    grid[:count] = points
    values = sample_tile(
        tile, grid[:, 0].reshape(rows, width), grid[:, 1].reshape(rows, width), period
    )
    return values.reshape(rows * width, *tile.shape[2:])[:count]


# --------------------------------------------------------------------------------------------
# Materials
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Light, atmosphere and camera response
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sun:
    """Direction of sunlight and how strongly it shades faces and casts shadows."""

    azimuth: float
    elevation: float
    ambient: float  # brightness of faces turned away from the sun
    shadow: float  # brightness factor inside cast shadows

    @property
    def direction(self) -> np.ndarray:
        """Unit vector pointing towards the sun."""
        flat = math.cos(self.elevation)
        return np.array(
            [
                flat * math.cos(self.azimuth),
                flat * math.sin(self.azimuth),
                math.sin(self.elevation),
            ]
        )

    def shadow_offset(self, height: float) -> np.ndarray:
        """Ground displacement of the shadow of a point `height` metres up."""
        return -height / math.tan(self.elevation) * heading_vector(self.azimuth)

    def brightness(self, normal: np.ndarray) -> float:
        """Lambertian brightness of a face with the given outward normal, in a few steps."""
        light = self.ambient + (1.0 - self.ambient) * max(0.0, float(normal @ self.direction))
        return round(light * 20) / 20


@dataclass(frozen=True)
class Look:
    """Sky, haze and camera response of a sequence; exposure and colour temperature drift per
    frame."""

    zenith: np.ndarray
    horizon: np.ndarray
    cloud_cover: float
    haze: np.ndarray
    visibility: float
    white_balance: np.ndarray  # (frames, 3) channel gains
    exposure: np.ndarray  # (frames,) gains
    saturation: float
    contrast: float
    noise: float
    blur: float
    vignette: float

    def faded(self, colour: np.ndarray, distance: float) -> np.ndarray:
        """An object's colour seen through `distance` metres of haze."""
        weight = 1.0 - math.exp(-distance / self.visibility)
        return np.asarray(colour) * (1 - weight) + self.haze * weight


def make_sun(rng: np.random.Generator, overcast: bool) -> Sun:
    """Sun position and shadow strength for one sequence."""
    return Sun(
        azimuth=uniform(rng, 0.0, 2 * np.pi),
        elevation=uniform(rng, 0.5, 1.15),
        ambient=uniform(rng, 0.7, 0.8) if overcast else uniform(rng, 0.45, 0.6),
        shadow=uniform(rng, 0.8, 0.88) if overcast else uniform(rng, 0.45, 0.62),
    )


def make_look(rng: np.random.Generator, overcast: bool, frames: int) -> Look:
    """Sky colours, haze and camera response for one sequence; exposure drifts per frame."""
    if overcast:
        zenith, horizon = vary(rng, (150, 158, 170), 8), vary(rng, (205, 208, 212), 6)
        cover = uniform(rng, 0.7, 1.0)
    else:
        zenith, horizon = vary(rng, (62, 118, 196), 12), vary(rng, (188, 208, 228), 8)
        cover = uniform(rng, 0.0, 0.6)
    warmth = uniform(rng, -1.0, 1.0) + np.cumsum(rng.normal(0.0, 0.05, frames))
    base_exposure = uniform(rng, 0.85, 1.12)
    return Look(
        zenith=zenith,
        horizon=horizon,
        cloud_cover=cover,
        haze=horizon * 0.92 + 10.0,
        visibility=uniform(rng, 350.0, 1500.0),
        white_balance=np.stack([1 + 0.07 * warmth, 1 + 0.01 * warmth, 1 - 0.08 * warmth], 1),
        exposure=base_exposure * (1 + np.cumsum(rng.normal(0.0, 0.015, frames))),
        saturation=uniform(rng, 0.8, 1.1),
        contrast=uniform(rng, 0.9, 1.1),
        noise=uniform(rng, 1.5, 4.5),
        blur=uniform(rng, 0.45, 0.85),
        vignette=uniform(rng, 0.0, 0.25),
    )


# --------------------------------------------------------------------------------------------
# Camera and per-pixel rays
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: world position, rotation (rows: right, down, forward), focal in pixels."""

    position: np.ndarray
    rotation: np.ndarray
    focal: float
    width: int
    height: int

    @property
    def principal_point(self) -> tuple[float, float]:
        """Image centre (pixel centres at integer coordinates)."""
        return (self.width - 1) / 2, (self.height - 1) / 2

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) in camera coordinates (x right, y down, z forward)."""
        return (np.asarray(points, float) - self.position) @ self.rotation.T

    def to_image(self, camera_points: np.ndarray) -> np.ndarray:
        """Pixel coordinates of camera-space points in front of the camera."""
        cx, cy = self.principal_point
        z = camera_points[..., 2]
        return np.stack(
            [
                self.focal * camera_points[..., 0] / z + cx,
                self.focal * camera_points[..., 1] / z + cy,
            ],
            axis=-1,
        )

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates of world points."""
        return self.to_image(self.to_camera(points))

    def depth(self, point: np.ndarray) -> float:
        """Distance of a world point along the viewing axis."""
        return float(self.to_camera(point)[2])

    def rays(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World direction (x, y, z components) through pixels, scaled to unit camera depth."""
        cx, cy = self.principal_point
        u, v = (x - cx) / self.focal, (y - cy) / self.focal
        right, down, forward = self.rotation
        return tuple(right[i] * u + down[i] * v + forward[i] for i in range(3))

    def ground_points(self, pixels: np.ndarray) -> np.ndarray:
        """Where the rays through pixels (below the horizon) meet the ground, as (n, 2)."""
        dx, dy, dz = self.rays(pixels[:, 0], pixels[:, 1])
        t = np.minimum(-self.position[2] / np.minimum(dz, -1e-9), LAYOUT_LIMIT)
        return np.stack([self.position[0] + t * dx, self.position[1] + t * dy], axis=1)

    def ground_distance_by_row(self) -> np.ndarray:
        """Camera depth of the ground seen in each row at the centre column (inf above horizon)."""
        rows = np.arange(self.height, dtype=float)
        _, _, dz = self.rays(np.full_like(rows, self.principal_point[0]), rows)
        return np.where(dz < 0, -self.position[2] / np.minimum(dz, -1e-12), np.inf)


def camera_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """World-to-camera rotation for a camera heading `yaw`, tilted `pitch` below the horizon."""
    heading = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    forward = math.cos(pitch) * heading + math.sin(pitch) * np.array([0.0, 0.0, -1.0])
    level_right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    level_down = np.cross(forward, level_right)
    right = math.cos(roll) * level_right + math.sin(roll) * level_down
    return np.stack([right, np.cross(forward, right), forward])


def oblique_cameras(rng: np.random.Generator, frames: int, width: int, height: int):
    """A low drone looking towards the horizon, drifting, turning and zooming slightly."""
    focal = width * uniform(rng, 0.72, 0.95)
    cy = (height - 1) / 2
    pitch = math.atan((cy - height * uniform(rng, 0.2, 0.38)) / focal)
    bottom = math.atan((height - 1 - cy) / focal)
    near_scale = uniform(rng, 15.0, 22.0) * width / REFERENCE_WIDTH
    altitude = focal * math.sin(pitch + bottom) / (near_scale * math.cos(bottom))
    return drifting_cameras(
        rng, frames, width, height, focal, altitude, math.pi / 2, pitch, uniform(rng, -0.05, 0.05)
    )


def nadir_cameras(rng: np.random.Generator, frames: int, width: int, height: int):
    """A drone looking (almost) straight down, drifting, turning and zooming slightly."""
    focal = width * uniform(rng, 0.72, 0.95)
    altitude = focal / (uniform(rng, 13.0, 19.0) * width / REFERENCE_WIDTH)
    pitch = math.pi / 2 - uniform(rng, 0.0, 0.08)
    return drifting_cameras(
        rng, frames, width, height, focal, altitude, uniform(rng, 0, 2 * np.pi), pitch, 0.0
    )


def drifting_cameras(
    rng: np.random.Generator,
    frames: int,
    width: int,
    height: int,
    focal: float,
    altitude: float,
    yaw: float,
    pitch: float,
    roll: float,
) -> list[Camera]:
    """Cameras for consecutive frames: constant small velocity, turn rate and zoom rate."""
    velocity = heading_vector(uniform(rng, 0, 2 * np.pi)) * uniform(rng, 0.15, 0.8)
    climb, zoom = uniform(rng, -0.01, 0.01), uniform(rng, -0.012, 0.012)
    turn, tilt = uniform(rng, -0.006, 0.006), uniform(rng, -0.002, 0.002)
    cameras = []
    for k in range(frames):
        position = np.array([*(velocity * k), altitude * (1 + climb * k)])
        rotation = camera_rotation(yaw + turn * k, pitch + tilt * k, roll)
        cameras.append(Camera(position, rotation, focal * (1 + zoom * k), width, height))
    return cameras


@dataclass(frozen=True)
class PixelRays:
    """Every pixel's viewing ray and where it meets the ground plane (z = 0)."""

    ground_x: np.ndarray
    ground_y: np.ndarray
    distance: np.ndarray  # camera depth of the ground hit (FAR_LIMIT on sky pixels)
    footprint: np.ndarray  # metres of ground covered by the pixel (for texture anti-aliasing)
    sky: np.ndarray
    direction: tuple[np.ndarray, np.ndarray, np.ndarray]
    sin_elevation: np.ndarray


def cast_rays(camera: Camera) -> PixelRays:
    """Intersect every pixel's ray with the ground."""
    xs = np.arange(camera.width, dtype=np.float32)[None, :]
    ys = np.arange(camera.height, dtype=np.float32)[:, None]
    dx, dy, dz = (
        np.broadcast_to(c, (camera.height, camera.width)).astype(np.float32)
        for c in camera.rays(xs, ys)
    )
    norm = np.sqrt(dx * dx + dy * dy + dz * dz)
    height = float(camera.position[2])
    sky = dz > -height / FAR_LIMIT
    distance = np.where(sky, FAR_LIMIT, height / np.maximum(-dz, height / FAR_LIMIT))
    grazing = np.maximum(-dz / norm, 0.03)
    return PixelRays(
        ground_x=(camera.position[0] + distance * dx).astype(np.float32),
        ground_y=(camera.position[1] + distance * dy).astype(np.float32),
        distance=distance.astype(np.float32),
        footprint=(distance * norm / (camera.focal * grazing)).astype(np.float32),
        sky=sky,
        direction=(dx, dy, dz),
        sin_elevation=dz / norm,
    )


# --------------------------------------------------------------------------------------------
# Rasterisation
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# World: ground model, overlays and drawable objects
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Solids: faces from footprints
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Object models (local metres: u forward / length, v left / width, z up)
# --------------------------------------------------------------------------------------------

CAR_COLOURS = [
    (235, 235, 232), (30, 30, 34), (160, 163, 168), (110, 112, 118), (165, 30, 30),
    (30, 60, 140), (40, 80, 60), (200, 170, 60), (90, 40, 30),
]  # fmt: skip
GLASS = (45, 55, 68)
TYRE = (26, 26, 28)
ROOF_COLOURS = [(160, 78, 58), (84, 84, 90), (175, 175, 172), (118, 92, 72), (92, 104, 118)]
FLAT_ROOF_COLOURS = [(150, 150, 148), (190, 188, 182), (95, 95, 98), (120, 115, 105)]
WALL_COLOURS = [(214, 198, 172), (226, 224, 218), (162, 96, 74), (150, 150, 150), (220, 200, 140)]
POLE_COLOURS = [(70, 72, 76), (120, 122, 126), (95, 70, 50), (50, 80, 60)]
ROCK_COLOURS = [(135, 132, 126), (150, 135, 115), (105, 102, 98)]
SKIN = [(236, 196, 160), (206, 150, 110), (150, 100, 70), (95, 62, 45)]
HAIR = [(25, 20, 18), (70, 45, 30), (180, 150, 90), (140, 140, 140)]
TROUSERS = [(40, 60, 110), (30, 30, 34), (150, 130, 100), (90, 90, 95), (60, 70, 50)]
BIKE_FRAMES = [(30, 30, 32), (170, 30, 30), (30, 60, 150), (170, 172, 176), (40, 110, 60)]
HULL_COLOURS = [(238, 238, 236), (238, 238, 236), (170, 35, 35), (30, 55, 130), (225, 190, 60)]
DECK_COLOURS = [(225, 222, 214), (165, 125, 85)]
DRONE_BODIES = [(32, 32, 36), (32, 32, 36), (70, 72, 78), (225, 225, 222)]
LEAVES = [(52, 88, 42), (62, 98, 48), (44, 74, 40), (78, 104, 52)]
ANIMAL_COATS = {
    "cow": [(120, 78, 48), (35, 32, 30), (225, 220, 210), (150, 110, 70)],
    "sheep": [(218, 212, 196), (200, 192, 175)],
    "horse": [(110, 70, 40), (150, 95, 55), (40, 32, 28), (190, 185, 175)],
    "dog": [(150, 100, 55), (35, 30, 28), (210, 170, 110), (120, 110, 100)],
}
ANIMAL_SIZES = {  # body length, body height, leg length (metres, slightly exaggerated)
    "cow": (2.5, 0.95, 0.8),
    "sheep": (1.7, 0.85, 0.5),
    "horse": (2.6, 0.9, 1.05),
    "dog": (1.6, 0.6, 0.55),
}


def chamfered_box(length: float, width: float, corner: float) -> np.ndarray:
    """Rectangle centred on the origin with cut corners (a car's footprint)."""
    u, v = length / 2, width / 2
    return np.array(
        [(-u, -v + corner), (-u + corner, -v), (u - corner, -v), (u, -v + corner),
         (u, v - corner), (u - corner, v), (-u + corner, v), (-u, v - corner)]
    )  # fmt: skip


def car_parts(kit: Kit, rng: np.random.Generator):
    """A car: dark underbody, painted body and a glass cabin with a painted roof."""
    length, width = uniform(rng, 4.0, 4.8), uniform(rng, 1.75, 2.0)
    paint = vary(rng, pick(rng, CAR_COLOURS), 8)
    outline = chamfered_box(length, width, 0.3)
    cabin_base = box(-0.32 * length, -0.45 * width, 0.2 * length, 0.45 * width)
    cabin_top = box(-0.26 * length, -0.37 * width, 0.04 * length, 0.37 * width)
    roof = uniform(rng, 1.4, 1.7)
    return (
        kit.prism(outline * 0.95, 0.0, 0.35, TYRE),
        kit.prism(outline, 0.3, 0.95, paint),
        kit.prism(cabin_base, 0.95, roof, GLASS, top_colour=paint, top=cabin_top),
    )


def boat_parts(kit: Kit, rng: np.random.Generator, length: float):
    """A boat: flared hull with a deck, and a cabin on larger boats. Also returns its beam."""
    beam = length * uniform(rng, 0.34, 0.42)
    hull = np.array(
        [(-length / 2, -beam / 2), (0.18 * length, -beam / 2), (length / 2, 0.0),
         (0.18 * length, beam / 2), (-length / 2, beam / 2)]
    )  # fmt: skip
    colour, deck = vary(rng, pick(rng, HULL_COLOURS), 8), vary(rng, pick(rng, DECK_COLOURS), 8)
    freeboard = uniform(rng, 0.6, 1.0)
    parts = [kit.prism(hull * 0.82, 0.0, freeboard, colour, top_colour=deck, top=hull)]
    if length > 6.0:
        cabin = box(-0.3 * length, -0.3 * beam, 0.08 * length, 0.3 * beam)
        white = vary(rng, (232, 232, 230), 6)
        top = cabin * 0.9 - np.array([0.02 * length, 0.0])
        parts.append(kit.prism(cabin, freeboard, freeboard + 1.1, GLASS, white, top))
    return tuple(parts), beam


def house_parts(kit: Kit, rng: np.random.Generator, size: np.ndarray, height: float):
    """A building: walls with windows and a gable roof, or a flat roof with rooftop boxes."""
    length, depth = size
    wall = vary(rng, pick(rng, WALL_COLOURS), 8)
    glass = kit.paint(GLASS)
    if rng.random() < 0.5:
        return (gable_house(kit, rng, length, depth, height, wall, glass),)
    return flat_roof_house(kit, rng, length, depth, height, wall, glass)


def window_grid(start: np.ndarray, end: np.ndarray, height: float) -> tuple[np.ndarray, ...]:
    """Window quads on the wall between two ground corners, one row per ~3 m storey."""
    floors = max(1, int(height / 3.0))
    columns = max(1, int(np.linalg.norm(end[:2] - start[:2]) / 3.2))
    windows = []
    for floor in range(floors):
        bottom, top = (floor + 0.3) * height / floors, (floor + 0.75) * height / floors
        for column in range(columns):
            a = start[:2] + (end[:2] - start[:2]) * (column + 0.25) / columns
            b = start[:2] + (end[:2] - start[:2]) * (column + 0.75) / columns
            windows.append(np.array([[*a, bottom], [*b, bottom], [*b, top], [*a, top]]))
    return tuple(windows)


def with_windows(face: Face, material: int, height: float) -> Face:
    """The wall with a grid of windows below `height` (its bottom edge is its first two points)."""
    windows = window_grid(face.points[0], face.points[1], height)
    return Face(face.points, face.normal, face.material, windows, material)


def gable_house(kit: Kit, rng, length, depth, height, wall, glass: int) -> tuple[Face, ...]:
    """Walls with windows plus a pitched roof whose ridge runs along the long side."""
    ridge = depth * uniform(rng, 0.25, 0.4)
    roof = vary(rng, pick(rng, ROOF_COLOURS), 8)
    hl, hd = length / 2, depth / 2
    b = [np.array(p, float) for p in ((-hl, -hd, 0), (hl, -hd, 0), (hl, hd, 0), (-hl, hd, 0))]
    up = np.array([0.0, 0.0, height])
    front, back = np.array([hl, 0.0, height + ridge]), np.array([-hl, 0.0, height + ridge])
    walls = [
        np.array([b[0], b[1], b[1] + up, b[0] + up]),
        np.array([b[1], b[2], b[2] + up, front, b[1] + up]),
        np.array([b[2], b[3], b[3] + up, b[2] + up]),
        np.array([b[3], b[0], b[0] + up, back, b[3] + up]),
    ]
    slopes = [
        np.array([b[0] + up, b[1] + up, front, back]),
        np.array([b[2] + up, b[3] + up, back, front]),
    ]
    return (
        *(with_windows(kit.face(w, wall), glass, height) for w in walls),
        *(kit.face(s, roof) for s in slopes),
    )


def flat_roof_house(kit: Kit, rng, length, depth, height, wall, glass: int):
    """A box with windows, a flat roof and a few rooftop machinery boxes."""
    roof = vary(rng, pick(rng, FLAT_ROOF_COLOURS), 8)
    *walls, lid = kit.prism(
        box(-length / 2, -depth / 2, length / 2, depth / 2), 0, height, wall, roof
    )
    parts = [(*(with_windows(w, glass, height) for w in walls), lid)]
    for _ in range(int(rng.integers(0, 4))):
        half = rng.uniform(0.6, 1.5, 2)
        centre = rng.uniform(-1, 1, 2) * (np.array([length, depth]) / 2 - half * 2)
        machine = vary(rng, (175, 175, 178), 10)
        footprint = box(*(centre - half), *(centre + half))
        parts.append(kit.prism(footprint, height, height + uniform(rng, 0.6, 1.4), machine))
    return tuple(parts)


def pole_parts(kit: Kit, rng: np.random.Generator):
    """A lamp or utility pole with a short arm at the top."""
    height, radius = uniform(rng, 4.0, 7.0), uniform(rng, 0.22, 0.3)
    colour = vary(rng, pick(rng, POLE_COLOURS), 6)
    return (
        kit.prism(ellipse(0.0, 0.0, radius, radius, n=6), 0.0, height, colour),
        kit.prism(box(-0.15, -0.15, 1.4, 0.15), height - 0.35, height, colour),
    )


def barrier_parts(kit: Kit, rng: np.random.Generator):
    """A row of red-and-white barrier blocks."""
    colours = [vary(rng, (200, 40, 35), 8), vary(rng, (235, 235, 230), 6)]
    return tuple(
        kit.prism(box(i * 0.95, -0.25, i * 0.95 + 0.9, 0.25), 0.0, 1.0, colours[i % 2])
        for i in range(int(rng.integers(2, 5)))
    )


def cone_parts(kit: Kit, rng: np.random.Generator):
    """A traffic cone."""
    base, tip = ellipse(0, 0, 0.34, 0.34, n=8), ellipse(0, 0, 0.07, 0.07, n=8)
    return (kit.prism(base, 0.0, 0.9, vary(rng, (235, 105, 30), 8), top=tip),)


def rock_parts(kit: Kit, rng: np.random.Generator):
    """An irregular boulder."""
    radius = uniform(rng, 0.6, 1.3)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 8))
    spokes = np.stack([np.cos(angles), np.sin(angles)], 1) * rng.uniform(0.7, 1.0, (8, 1))
    outline = cv2.convexHull((spokes * radius).astype(np.float32))[:, 0].astype(float)
    top = outline * uniform(rng, 0.45, 0.65) + rng.normal(0, 0.1 * radius, 2)
    colour = vary(rng, pick(rng, ROCK_COLOURS), 8)
    return (kit.prism(outline, 0.0, radius * uniform(rng, 0.5, 0.9), colour, top=top),)


def person_materials(kit: Kit, rng: np.random.Generator) -> list[int]:
    """Shirt, trousers, skin and hair materials of one person."""
    return [
        kit.paint(hsv(rng, (0.25, 0.9), (0.3, 0.95))),
        kit.paint(vary(rng, pick(rng, TROUSERS), 10)),
        kit.paint(vary(rng, pick(rng, SKIN), 8)),
        kit.paint(vary(rng, pick(rng, HAIR), 8)),
    ]


def person_standing(materials: list[int], rng: np.random.Generator, height: float):
    """Side view of a person: legs, arms, torso, head and hair (feet at v = 0)."""
    shirt, trousers, skin, hair = materials
    h = height
    stride = uniform(rng, -0.07, 0.07) * h
    torso = np.array(
        [(-0.14, 0.45), (0.14, 0.45), (0.16, 0.78), (0.1, 0.83), (-0.1, 0.83), (-0.16, 0.78)]
    )
    return (
        (segment((-0.06 * h + stride, 0), (-0.055 * h, 0.48 * h), 0.1 * h), trousers),
        (segment((0.06 * h - stride, 0), (0.055 * h, 0.48 * h), 0.1 * h), trousers),
        (segment((-0.16 * h, 0.79 * h), (-0.2 * h, 0.5 * h), 0.075 * h), shirt),
        (segment((0.16 * h, 0.79 * h), (0.2 * h, 0.5 * h), 0.075 * h), shirt),
        (torso * h, shirt),
        (ellipse(-0.2 * h, 0.48 * h, 0.035 * h, 0.04 * h), skin),
        (ellipse(0.2 * h, 0.48 * h, 0.035 * h, 0.04 * h), skin),
        (ellipse(0.0, 0.9 * h, 0.07 * h, 0.085 * h), skin),
        (ellipse(0.0, 0.935 * h, 0.075 * h, 0.055 * h), hair),
    )


def person_from_above(materials: list[int], rng: np.random.Generator, height: float):
    """Top view of a person: feet, shoulders with arms, head of hair."""
    shirt, trousers, skin, hair = materials
    h = height
    stride = uniform(rng, 0.04, 0.12) * h
    return (
        (ellipse(stride, 0.07 * h, 0.09 * h, 0.05 * h), trousers),
        (ellipse(-stride, -0.07 * h, 0.09 * h, 0.05 * h), trousers),
        (ellipse(0.0, 0.21 * h, 0.08 * h, 0.05 * h), shirt),
        (ellipse(0.0, -0.21 * h, 0.08 * h, 0.05 * h), shirt),
        (ellipse(0.0, 0.0, 0.12 * h, 0.21 * h), shirt),
        (ellipse(0.06 * h, 0.0, 0.05 * h, 0.05 * h), skin),
        (ellipse(0.0, 0.0, 0.085 * h, 0.08 * h), hair),
    )


def bike_materials(kit: Kit, rng: np.random.Generator) -> list[int]:
    """Frame, tyre and spoke materials of one bike."""
    return [
        kit.paint(vary(rng, pick(rng, BIKE_FRAMES), 8)),
        kit.paint(TYRE),
        kit.paint(vary(rng, (95, 95, 100), 8), texture=0.15, grain=0.2),
    ]


def bike_side(materials: list[int], scale: float):
    """Side view of a bicycle: two wheels (tyre, spokes, hub) and a diamond frame."""
    frame, tyre, spokes = materials
    k = scale
    r, half_base = 0.37 * k, 0.53 * k
    rear, front, crank = np.array([-half_base, r]), np.array([half_base, r]), np.array([0.0, r])
    seat, head = np.array([-0.12, 0.98]) * k, np.array([0.4, 0.98]) * k
    bar = head + np.array([-0.05, 0.14]) * k
    tube = 0.09 * k
    shapes = []
    for hub in (rear, front):
        shapes += [
            (ellipse(*hub, r, r, n=20), tyre),
            (ellipse(*hub, r - 0.09 * k, r - 0.09 * k, n=20), spokes),
            (ellipse(*hub, 0.06 * k, 0.06 * k, n=8), tyre),
        ]
    tubes = [(rear, crank), (rear, seat), (crank, seat), (seat, head), (crank, head), (head, front)]
    shapes += [(segment(a, b, tube), frame) for a, b in [*tubes, (head, bar)]]
    shapes += [
        (segment(bar - np.array([0.09, 0.0]) * k, bar + np.array([0.11, 0.0]) * k, tube), tyre),
        (box(seat[0] - 0.13 * k, seat[1], seat[0] + 0.08 * k, seat[1] + 0.07 * k), tyre),
    ]
    return tuple(shapes)


def bike_from_above(materials: list[int], scale: float):
    """A bicycle seen steeply from above: foreshortened wheels, frame bar and handlebar."""
    frame, tyre, spokes = materials
    k = scale
    r, half_base = 0.37 * k, 0.53 * k
    shapes = []
    for hub in (-half_base, half_base):
        shapes += [
            (ellipse(hub, 0.0, r, 0.42 * r, n=16), tyre),
            (ellipse(hub, 0.0, r - 0.09 * k, 0.42 * r - 0.07 * k, n=16), spokes),
        ]
    shapes += [
        (segment((-half_base, 0.0), (half_base, 0.0), 0.11 * k), frame),
        (segment((0.42 * k, -0.3 * k), (0.42 * k, 0.3 * k), 0.1 * k), tyre),
        (ellipse(-0.15 * k, 0.0, 0.14 * k, 0.07 * k), tyre),
    ]
    return tuple(shapes)


def animal_materials(kit: Kit, rng: np.random.Generator, kind: str) -> list[int]:
    """Coat, head/leg and patch materials of one animal."""
    coat = vary(rng, pick(rng, ANIMAL_COATS[kind]), 10)
    head = (55, 50, 46) if kind == "sheep" else coat * 0.85
    patch = (235, 232, 225) if coat.mean() < 130 else (40, 36, 34)
    return [kit.paint(coat, texture=0.08), kit.paint(head), kit.paint(vary(rng, patch, 6))]


def animal_patches(rng: np.random.Generator, centre, rx: float, ry: float, material: int):
    """A few coat patches fully inside the body ellipse."""
    shapes = []
    for _ in range(int(rng.integers(0, 3))):
        pu, pv = rng.uniform(-0.45, 0.45, 2)
        size = uniform(rng, 0.2, 0.35)
        patch = ellipse(centre[0] + pu * rx, centre[1] + pv * ry, size * rx, size * ry)
        shapes.append((patch, material))
    return shapes


def animal_side(materials: list[int], rng: np.random.Generator, kind: str):
    """Side view: four legs, body, neck, head, tail and coat patches (hooves at v = 0)."""
    coat, head_material, patch = materials
    length, body, legs = ANIMAL_SIZES[kind]
    rx, ry = 0.42 * length, body / 2
    centre = np.array([0.0, legs + ry * 0.8])
    shapes = [
        (
            segment((u * rx, centre[1] - 0.3 * ry), (u * rx + 0.03, 0.0), 0.07 * length),
            head_material,
        )
        for u in (-0.75, -0.55, 0.55, 0.75)
    ]
    neck = centre + np.array([0.8 * rx, 0.2 * ry])
    head = neck + np.array([0.16 * length, 0.55 * body])
    tail = (centre - np.array([0.95 * rx, -0.2 * ry]), centre - np.array([1.15 * rx, 0.4 * ry]))
    shapes += [
        (ellipse(*centre, rx, ry), coat),
        (segment(neck, head, 0.5 * body), coat),
        (ellipse(*head, 0.14 * length, 0.2 * body, angle=-0.4), head_material),
        (segment(*tail, 0.05 * length), coat),
    ]
    if kind == "cow":
        shapes += animal_patches(rng, centre, rx, ry, patch)
    return tuple(shapes)


def animal_from_above(materials: list[int], rng: np.random.Generator, kind: str):
    """Top view: body, head, ears and coat patches."""
    coat, head_material, patch = materials
    length, body, _ = ANIMAL_SIZES[kind]
    rx, ry = 0.42 * length, 0.5 * body
    head = 0.52 * length
    shapes = [
        (segment((-0.5 * length, 0.0), (-0.62 * length, 0.05), 0.06 * length), coat),
        (ellipse(0.0, 0.0, rx, ry), coat),
        (ellipse(head, 0.0, 0.13 * length, 0.38 * ry), head_material),
        (ellipse(head - 0.05 * length, 0.4 * ry, 0.05 * length, 0.18 * ry), head_material),
        (ellipse(head - 0.05 * length, -0.4 * ry, 0.05 * length, 0.18 * ry), head_material),
    ]
    if kind == "cow":
        shapes += animal_patches(rng, (0.0, 0.0), rx, ry, patch)
    return tuple(shapes)


def drone_shapes(kit: Kit, rng: np.random.Generator):
    """A quadcopter seen from slightly below: body, X arms, rotor discs, legs (span 1 m)."""
    body = kit.paint(vary(rng, pick(rng, DRONE_BODIES), 6))
    arms = kit.paint(vary(rng, (35, 35, 38), 5))
    rotor = kit.paint(vary(rng, (150, 152, 158), 8))
    squash = uniform(rng, 0.25, 0.45)
    tips = [
        (-0.46, -0.5 * squash),
        (0.46, -0.5 * squash),
        (-0.33, 0.5 * squash),
        (0.33, 0.5 * squash),
    ]
    shapes = [(segment((0.0, 0.0), tip, 0.075), arms) for tip in tips]
    shapes += [(ellipse(u, v + 0.04, 0.17, 0.045), rotor) for u, v in tips]
    shapes += [
        (segment((-0.1, -0.03), (-0.16, -0.22), 0.04), arms),
        (segment((0.1, -0.03), (0.16, -0.22), 0.04), arms),
        (ellipse(0.0, 0.0, 0.18, 0.09), body),
        (ellipse(0.0, -0.1, 0.05, 0.045), arms),
    ]
    return tuple(shapes)


def tree_shapes(kit: Kit, rng: np.random.Generator, upright: bool):
    """A tree: a clump of canopy discs with a sunlit side, on a trunk when seen from the side.

    Returns the shapes, the crown radius and the tree's height (metres).
    """
    radius, trunk = uniform(rng, 1.6, 3.4), uniform(rng, 1.2, 2.8)
    green = vary(rng, pick(rng, LEAVES), 8)
    dark = kit.paint(green * 0.8, pattern=CANOPY, texture=0.12)
    light = kit.paint(green * 1.15, pattern=CANOPY, texture=0.12)
    centre = np.array([0.0, trunk + radius * 0.85]) if upright else np.zeros(2)
    toward_sun = np.array([0.35, 0.3]) if upright else heading_vector(kit.sun.azimuth) * 0.3
    shapes = []
    if upright:
        bark = kit.paint(vary(rng, (85, 65, 45), 8))
        shapes.append((segment((0.0, 0.0), (0.0, trunk + radius * 0.5), 0.32), bark))
    for _ in range(int(rng.integers(4, 7))):
        r = radius * uniform(rng, 0.5, 0.75)
        shapes.append((ellipse(*(centre + rng.normal(0, 0.35 * radius, 2)), r, r), dark))
    for _ in range(int(rng.integers(2, 4))):
        r = radius * uniform(rng, 0.3, 0.45)
        offset = toward_sun * radius + rng.normal(0, 0.2 * radius, 2)
        shapes.append((ellipse(*(centre + offset), r, r), light))
    return tuple(shapes), radius, trunk + 2 * radius


# --------------------------------------------------------------------------------------------
# Composing a world
# --------------------------------------------------------------------------------------------


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
        candidates = self.sample(self.regions.near if quad is None else quad, count * 12 + 8)
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


# ----- ground -------------------------------------------------------------------------------

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
        point = near_centre + normal * radius * uniform(b.rng, 0.9, 1.4)
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
    "urban": ("paving", "grass", "dirt", (-0.35, 0.8), 3.0, 0.1, {"river": 0.25}),
    "park": ("dirt", "grass", "dry", (-1.3, 0.9), 2.2, 0.4, {"lake": 0.65}),
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
    draw = b.rng.random()
    for kind, chance in waters.items():
        if draw < chance:
            water = make_water(b, kind)
            break
        draw -= chance
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
            if b.rng.random() < 0.65 and u + 2.6 < length / 2:
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


# ----- objects ------------------------------------------------------------------------------


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
    sizes = b.rng.uniform((9.0, 8.0), (20.0, 15.0), (len(sites), 2))
    probes = np.stack(
        [footprint_probes(c, a, size) for (c, a), size in zip(sites, sizes, strict=True)]
    )
    clear = np.isin(b.surface(probes.reshape(-1, 2)), LAND).reshape(len(sites), -1).all(1)
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
        height = uniform(b.rng, 2.2, 2.5)
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
    for centre in b.spots(groups, 1.2, surfaces):
        heading = uniform(b.rng, 0, 2 * np.pi)
        speed = uniform(b.rng, 0.05, 0.3) if b.rng.random() < 0.6 else 0.0
        members = int(b.rng.integers(size[0], size[1] + 1))
        for i in range(members):
            point = centre + (
                rotate(np.array([[1.1 * i, b.rng.normal(0, 0.6)]]), heading)[0] if i else 0.0
            )
            if i and not (b.free(point, 0.45) and b.surface(point[None])[0] in surfaces):
                continue
            b.claim(point, 0.45)
            b.add(person_sprite(b, point, heading + b.rng.normal(0, 0.3), speed))


def bike_sprites(b: Builder, point, heading: float, speed: float, rider: bool) -> list[Sprite]:
    """A bicycle, optionally with a rider sitting on it."""
    materials = bike_materials(b.kit(BIKE, point), b.rng)
    scale = uniform(b.rng, 1.2, 1.35) if b.upright else uniform(b.rng, 1.35, 1.5)
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
    """Bicycles at road edges (some ridden along the road), the rest parked on open ground."""
    placed = 0
    for road, point, tangent in b.road_spots(count, b.regions.near):
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
        for sprite in bike_sprites(b, spot, uniform(b.rng, 0, 2 * np.pi), 0.0, False):
            b.add(sprite)


def add_animals(
    b: Builder, herds: int, size: tuple[int, int], kinds: Sequence[str], surfaces=(S_GREEN,)
) -> None:
    """Herds of one animal kind grazing or walking (on grass unless told otherwise)."""
    for centre in b.spots(herds, 2.0, surfaces):
        kind = pick(b.rng, kinds)
        members = int(b.rng.integers(size[0], size[1] + 1))
        for i in range(members):
            point = centre + (b.rng.normal(0, 2.5, 2) if i else 0.0)
            length = ANIMAL_SIZES[kind][0]
            if i and not (b.free(point, length / 2) and b.surface(point[None])[0] in surfaces):
                continue
            b.claim(point, length / 2)
            b.add(animal_sprite(b, point, kind))


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
    """Cars driving in their lanes or parked at the kerb."""
    for road, point, tangent in b.road_spots(count, b.regions.near):
        if road.marking is None and road.width < 5:
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


def add_boats(b: Builder, count: int) -> None:
    """Boats on the water, some moving with a foam wake."""
    if b.ground.water is None:
        return
    candidates = b.sample(b.regions.near, count * 15 + 10)
    placed = 0
    for point, depth in zip(candidates, b.ground.water_level_at(candidates), strict=True):
        if placed == count:
            break
        length, heading = uniform(b.rng, 4.0, 11.0), uniform(b.rng, 0, 2 * np.pi)
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
    """Small quadcopters in the sky, above the horizon, drifting slightly."""
    camera = b.camera
    unit_px = camera.width / REFERENCE_WIDTH
    taken: list[np.ndarray] = []
    for _ in range(count):
        span = uniform(b.rng, 32, 66) * unit_px
        x = uniform(b.rng, 0.06, 0.94) * camera.width
        top, bottom = 0.03 * camera.height + span * 0.3, horizon_row(camera, x) - span * 0.7
        if bottom <= top:
            continue
        y = uniform(b.rng, top, bottom)
        pixel = np.array([x, y])
        if any(np.hypot(*(pixel - t)) < span * 1.5 for t in taken):
            continue
        taken.append(pixel)
        depth = camera.focal / span
        origin = camera.position + depth * np.array(camera.rays(np.array(x), np.array(y)))
        drift = np.array([*b.rng.normal(0, 0.04, 2) * depth, b.rng.normal(0, 0.01) * depth])
        heading = uniform(b.rng, 0, 2 * np.pi)
        b.add(Sprite(drone_shapes(b.kit(DRONE), b.rng), origin, drift, heading, True))


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
    if b.kind == "urban" or (b.kind == "coast" and b.rng.random() < 0.5):
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


# ----- scene recipes ------------------------------------------------------------------------


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
    """Split `num_images` frames into sequences and draw each one's view and scene kind."""
    if num_images < 1 or frames_per_sequence < 1:
        raise ValueError("num_images and frames_per_sequence must be positive")
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


# --------------------------------------------------------------------------------------------
# Rendering a frame
# --------------------------------------------------------------------------------------------


def rasterise(world: World, frame: int, rays: PixelRays, landscape: np.ndarray) -> Canvas:
    """Material and shading maps of one frame: ground layers, then objects far to near."""
    camera = world.cameras[frame]
    material = world.ground.base_materials(landscape)
    canvas = Canvas(camera, material, np.zeros(material.shape, np.uint8))
    for overlay in world.fields:
        overlay.draw(canvas)
    world.ground.cover(material, rays.ground_x, rays.ground_y, landscape)
    for overlay in world.overlays:
        overlay.draw(canvas)
    material[rays.sky] = SKY_MATERIAL
    ordered = sorted(world.drawables, key=lambda d: -d.depth(camera, frame))
    for drawable in ordered:
        drawable.draw_shadow(canvas, frame)
    for drawable in ordered:
        drawable.draw(canvas, frame)
    return canvas


def surface_colours(world: World, material: np.ndarray, rays: PixelRays, landscape) -> np.ndarray:
    """Textured colour of every pixel from its material (before sky, shading and haze)."""
    palette = world.palette
    colour = np.take(palette.colour, material, axis=0)
    blend = np.clip(landscape[..., BLEND] * 0.4 + 0.5, 0, 1)
    colour += np.take(palette.shift, material, axis=0) * blend[..., None]
    detail = sample_tile(world.ground.tiles.medium, rays.ground_x, rays.ground_y, MEDIUM_PERIOD)
    gains = np.take(palette.gains, material, axis=0)
    gain = gains[..., 0] * detail[..., CLUMPS] + gains[..., 2] * detail[..., CROWNS]
    gain *= np.clip(2.0 - rays.footprint * (1 / 0.3), 0, 1)
    gain += gains[..., 1] * detail[..., GRAIN] * np.clip(1.5 - rays.footprint * (1 / 0.1), 0, 1)
    gain += 1
    if palette.rows[:, 2].any():
        gain += row_waves(palette, material, rays) * gains[..., 3]
    colour *= gain[..., None]
    water = np.take(palette.water, material)
    if water.any():
        apply_water(colour, world, water, rays, detail)
    return colour


def row_waves(palette: Palette, material: np.ndarray, rays: PixelRays) -> np.ndarray:
    """Crop rows and mowing stripes: a sine across each material's row direction, faded with
    distance so rows never alias."""
    wave = np.take(palette.rows, material, axis=0)
    phase = rays.ground_x * wave[..., 0] + rays.ground_y * wave[..., 1]
    fade = np.clip(1.5 - rays.footprint * wave[..., 2] * 3.0, 0, 1)
    return np.sin(phase * np.float32(2 * np.pi)) * fade


def apply_water(colour, world: World, where, rays: PixelRays, detail: np.ndarray) -> None:
    """Ripples, glints and sky reflection on water."""
    ripple = detail[where, RIPPLES]
    fresnel = np.clip(1 + 2.5 * rays.sin_elevation[where], 0, 1)[:, None] ** 3 * 0.55
    water = colour[where] * (1 + 0.1 * ripple)[:, None]
    water = water * (1 - fresnel) + world.look.horizon.astype(np.float32) * fresnel
    glint = np.clip((ripple - 2.3) * 1.2, 0, 0.35)[:, None]
    colour[where] = water * (1 - glint) + 240.0 * glint


def sky_colours(world: World, rays: PixelRays, camera: Camera, sky: np.ndarray) -> np.ndarray:
    """Colours of the sky pixels: a gradient and clouds projected from a cloud layer."""
    look, tiles = world.look, world.ground.tiles
    band = slice(0, int(np.nonzero(sky.any(1))[0][-1]) + 1)  # sky pixels lie in the top rows
    elevation = np.clip(rays.sin_elevation[band], 0.0, 1.0)
    t = (np.clip(elevation * (1 / 0.45), 0, 1) ** 0.6)[..., None]
    colour = look.horizon.astype(np.float32) * (1 - t) + look.zenith.astype(np.float32) * t
    dx, dy, dz = (d[band] for d in rays.direction)
    reach = np.float32(CLOUD_HEIGHT - camera.position[2]) / np.maximum(dz, np.float32(0.02))
    cloud_x, cloud_y = camera.position[0] + reach * dx, camera.position[1] + reach * dy
    clouds = sample_tile(tiles.cloud, cloud_x, cloud_y, CLOUD_PERIOD)
    density = np.clip(clouds - (1.3 - 2.3 * look.cloud_cover), 0, 1)
    density *= np.clip(elevation * (1 / 0.12), 0, 1) * 0.85
    cloud = (look.horizon.astype(np.float32) * 0.3 + 200.0) * (0.92 + 0.05 * clouds[..., None])
    colour += (cloud - colour) * density[..., None]
    return colour[sky[band]]


def shade_and_haze(world: World, canvas: Canvas, colour: np.ndarray, rays: PixelRays) -> None:
    """Apply cast shadows, wake foam and distance haze to the terrain pixels, in place."""
    terrain = np.take(world.palette.terrain, canvas.material)
    factors = np.ones(3, np.float32)
    factors[SHADOW], factors[FOAM] = world.sun.shadow, 1.35
    haze = 1 - np.exp(rays.distance * np.float32(-1 / world.look.visibility))
    haze *= terrain
    keep = np.where(terrain, np.take(factors, canvas.shade), np.float32(1)) * (1 - haze)
    colour *= keep[..., None]
    colour += haze[..., None] * world.look.haze.astype(np.float32)


def camera_response(look: Look, frame: int) -> np.ndarray:
    """3x4 colour matrix: exposure, white balance, contrast about mid-grey and saturation."""
    gain = look.white_balance[frame] * look.exposure[frame] * look.contrast
    mix = np.full((3, 3), (1 - look.saturation) / 3) + np.eye(3) * look.saturation
    offset = 128.0 * (1 - look.contrast) + 0.5  # +0.5 rounds in the final uint8 cast
    return np.column_stack([mix * gain[None, :], np.full(3, offset)]).astype(np.float32)


def vignette(height: int, width: int, strength: float) -> np.ndarray:
    """Radial darkening towards the corners, as a per-pixel factor."""
    yy, xx = np.ogrid[-1 : 1 : height * 1j, -1 : 1 : width * 1j]
    return (1 - strength * 0.5 * (xx * xx + yy * yy)).astype(np.float32)[..., None]


def develop(linear: np.ndarray, look: Look, frame: int, grain: np.ndarray) -> np.ndarray:
    """Camera response, vignette, slight blur and sensor noise; returns uint8 RGB."""
    image = cv2.transform(linear, camera_response(look, frame))
    image *= vignette(*image.shape[:2], look.vignette)
    image = cv2.GaussianBlur(image, (0, 0), look.blur)
    image += grain
    return np.clip(image, 0, 255).astype(np.uint8)


def render_frame(world: World, frame: int, grain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB image (H, W, 3) and class mask (H, W) of one frame, both uint8."""
    camera = world.cameras[frame]
    rays = cast_rays(camera)
    landscape = world.ground.landscape(rays.ground_x, rays.ground_y)
    canvas = rasterise(world, frame, rays, landscape)
    colour = surface_colours(world, canvas.material, rays, landscape)
    sky = canvas.material == SKY_MATERIAL
    if sky.any():
        colour[sky] = sky_colours(world, rays, camera, sky)
    shade_and_haze(world, canvas, colour, rays)
    mask = np.take(world.palette.class_id, canvas.material)
    return develop(colour, world.look, frame, grain), mask


def sensor_noise(rng: np.random.Generator, look: Look, frames: int, height: int, width: int):
    """Per-frame noise fields: one random field per sequence, shifted randomly each frame."""
    pad = 16
    field = rng.standard_normal((height + pad, width + pad, 3), dtype=np.float32) * look.noise
    for _ in range(frames):
        dy, dx = rng.integers(0, pad, 2)
        yield field[dy : dy + height, dx : dx + width]


def render_sequence(
    plan: SequencePlan, width: int, height: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Images and masks of all frames of one sequence."""
    world = build_world(plan, width, height)
    noise = sensor_noise(plan.rng, world.look, plan.frame_count, height, width)
    for frame, grain in enumerate(noise):
        yield render_frame(world, frame, grain)


# --------------------------------------------------------------------------------------------
# Writing the dataset
# --------------------------------------------------------------------------------------------


def validation_sequences(num_sequences: int, seed: int) -> set[int]:
    """Indices of the ~20% of sequences that form the validation split (whole sequences)."""
    if num_sequences < 2:
        return set()
    count = max(1, round(VAL_FRACTION * num_sequences))
    order = np.random.default_rng(seed).permutation(num_sequences)
    return {int(i) for i in order[:count]}


def write_frame(root: Path, image_id: str, image: np.ndarray, mask: np.ndarray) -> None:
    """Write one JPEG image and its single-channel PNG class mask."""
    jpeg = root / IMAGES_DIR / f"{image_id}.jpg"
    png = root / MASKS_DIR / f"{image_id}.png"
    if not cv2.imwrite(str(jpeg), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"could not write {jpeg}")
    if not cv2.imwrite(str(png), mask, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f"could not write {png}")


def write_splits(root: Path, plans: Sequence[SequencePlan], seed: int) -> None:
    """ImageSets/trn.txt and val.txt, splitting by whole sequences."""
    val = validation_sequences(len(plans), seed)
    for name, subset in (
        ("trn", [p for p in plans if p.index not in val]),
        ("val", [p for p in plans if p.index in val]),
    ):
        ids = [i for plan in subset for i in plan.image_ids]
        (root / SPLITS_DIR / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))


def check_destination(out_dir: Path, overwrite: bool) -> None:
    """Refuse to touch an existing non-empty destination unless overwriting was asked for."""
    occupied = out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir()))
    if occupied and not overwrite:
        raise FileExistsError(
            f"{out_dir} already exists and is not empty: pass --overwrite "
            "(overwrite=True) to replace it, or choose another folder"
        )


def move_into_place(staging: Path, out_dir: Path) -> None:
    """Replace `out_dir` by the finished staging folder, keeping the swap window short."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    retired = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
    out_dir.rename(retired)
    staging.rename(out_dir)
    if retired.is_dir():
        shutil.rmtree(retired)
    else:
        retired.unlink()


def generate_dataset(
    out_dir: Path,
    num_images: int = 400,
    seed: int = 0,
    width: int = 480,
    height: int = 272,
    frames_per_sequence: int = 5,
    overwrite: bool = False,
) -> list[str]:
    """Write the dataset, return the image ids in order.

    The files are rendered into a temporary sibling folder that is renamed into place at the end,
    so an interrupted run never leaves something that looks like a dataset.
    """
    out_dir = Path(os.path.abspath(out_dir))
    check_destination(out_dir, overwrite)
    plans = plan_sequences(num_images, seed, frames_per_sequence)
    staging = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        for sub in (IMAGES_DIR, MASKS_DIR, SPLITS_DIR):
            (staging / sub).mkdir(parents=True)
        for plan in plans:
            frames = render_sequence(plan, width, height)
            for image_id, (image, mask) in zip(plan.image_ids, frames, strict=True):
                write_frame(staging, image_id, image, mask)
        write_splits(staging, plans, seed)
        move_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [i for plan in plans for i in plan.image_ids]


def main(argv: list[str] | None = None) -> None:
    """Command line: render a synthetic drone dataset in AeroScapes layout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="destination folder")
    parser.add_argument("--num-images", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=272)
    parser.add_argument("--frames-per-sequence", type=int, default=5)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    ids = generate_dataset(
        args.out,
        args.num_images,
        args.seed,
        args.width,
        args.height,
        args.frames_per_sequence,
        args.overwrite,
    )
    print(f"Wrote {len(ids)} synthetic {args.width}x{args.height} images and masks to {args.out}")


if __name__ == "__main__":
    main()
