"""Object models in local metres (u forward / length, v left / width, z up): cars, boats,
buildings, obstacles, people, bikes, animals, drones and trees."""

from __future__ import annotations

import cv2
import numpy as np

from drone_seg.synthetic.materials import CANOPY
from drone_seg.synthetic.sampling import hsv, pick, uniform, vary
from drone_seg.synthetic.shapes import box, ellipse, heading_vector, segment
from drone_seg.synthetic.solids import Kit
from drone_seg.synthetic.world import Face

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
}
ANIMAL_SIZES = {  # body length, body height, leg length (metres, slightly exaggerated)
    "cow": (2.5, 0.95, 0.8),
    "sheep": (1.7, 0.85, 0.5),
    "horse": (2.6, 0.9, 1.05),
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
    length, width = uniform(rng, 3.5, 4.2), uniform(rng, 1.55, 1.75)
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
    squash = uniform(rng, 0.45, 0.65)
    tips = [
        (-0.46, -0.5 * squash),
        (0.46, -0.5 * squash),
        (-0.33, 0.5 * squash),
        (0.33, 0.5 * squash),
    ]
    shapes = [(segment((0.0, 0.0), tip, 0.075), arms) for tip in tips]
    shapes += [(ellipse(u, v + 0.04, 0.17, 0.17 * squash / 2), rotor) for u, v in tips]
    shapes += [
        (segment((-0.1, -0.03), (-0.16, -0.22), 0.04), arms),
        (segment((0.1, -0.03), (0.16, -0.22), 0.04), arms),
        (ellipse(0.0, 0.0, 0.18, 0.09), body),
        (ellipse(0.0, -0.1, 0.05, 0.045), arms),
    ]
    return tuple(shapes)


def drone_from_above(kit: Kit, rng: np.random.Generator):
    """A quadcopter seen from above: X arms, four rotor discs and the body (span 1 m along u,
    0.8 m across)."""
    body = kit.paint(vary(rng, pick(rng, DRONE_BODIES), 6))
    arms = kit.paint(vary(rng, (35, 35, 38), 5))
    rotor = kit.paint(vary(rng, (150, 152, 158), 8))
    tips = [(0.34, 0.24), (0.34, -0.24), (-0.34, 0.24), (-0.34, -0.24)]
    shapes = [(segment((0.0, 0.0), tip, 0.07), arms) for tip in tips]
    shapes += [(ellipse(u, v, 0.16, 0.16, n=12), rotor) for u, v in tips]
    shapes.append((ellipse(0.0, 0.0, 0.16, 0.1), body))
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
