"""Rendering a frame: material map, textures, sky, shadows and haze, then the camera's
response and noise; the mask comes from the same material map."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from drone_seg.synthetic.camera import Camera, PixelRays, cast_rays
from drone_seg.synthetic.light import Look
from drone_seg.synthetic.materials import SKY_MATERIAL, Palette
from drone_seg.synthetic.noise import (
    BLEND,
    CLOUD_PERIOD,
    CLUMPS,
    CROWNS,
    GRAIN,
    MEDIUM_PERIOD,
    RIPPLES,
    sample_tile,
)
from drone_seg.synthetic.raster import FOAM, SHADOW, Canvas
from drone_seg.synthetic.scenes import SequencePlan, build_world
from drone_seg.synthetic.world import World

CLOUD_HEIGHT = 1500.0


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
    """Images and masks of all frames of one sequence, shot by shot (`SequencePlan.shots`)."""
    for frames, rng in zip(plan.shots, plan.rng.spawn(len(plan.shots)), strict=True):
        world = build_world(plan, frames, rng, width, height)
        for frame, grain in enumerate(sensor_noise(rng, world.look, frames, height, width)):
            yield render_frame(world, frame, grain)
