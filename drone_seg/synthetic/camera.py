"""The pinhole camera of each frame (oblique or nadir, drifting) and every pixel's ray."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drone_seg.synthetic.sampling import uniform
from drone_seg.synthetic.shapes import heading_vector

OBLIQUE, NADIR = "oblique", "nadir"

REFERENCE_WIDTH = 480  # camera scales (pixels per metre) are tuned at this width

FAR_LIMIT = 6000.0  # metres: rays meeting the ground further away count as sky
LAYOUT_LIMIT = 1200.0  # metres: the laid-out world (roads, fields) ends this far from the camera


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
