"""The object classes of the synthetic world: nuScenes categories, sizes and shapes.

Each class draws its size from a distribution close to nuScenes' statistics and is
built from a few box-shaped parts (a car is a body, a cabin and wheels; a pedestrian is
legs, torso and head), so the LiDAR sees a silhouette and the cameras a recognisable shape.
Parts live in the object frame (x forward, y left, z up from the ground) and stay a
`ANNOTATION_MARGIN` inside the annotated box, so no simulated point sits on a box face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .materials import CLOTHES, MATERIAL_ID, VEHICLE_PAINTS

ANNOTATION_MARGIN = 0.03  # metres between a part and the annotated box faces (and below the ground)


@dataclass(frozen=True)
class ObjectClass:
    detection_name: str
    category: str  # full nuScenes category name
    length: tuple[float, float, float]  # mean, std, minimum (metres)
    width: tuple[float, float, float]
    height: tuple[float, float, float]


CLASSES: dict[str, ObjectClass] = {
    c.detection_name: c
    for c in (
        ObjectClass("car", "vehicle.car", (4.6, 0.35, 3.6), (1.95, 0.12, 1.6), (1.7, 0.15, 1.4)),
        ObjectClass("truck", "vehicle.truck", (7.0, 1.5, 5.0), (2.5, 0.15, 2.1), (3.0, 0.35, 2.3)),
        ObjectClass("construction_vehicle", "vehicle.construction", (6.4, 1.0, 4.5), (2.8, 0.2, 2.3), (3.2, 0.4, 2.4)),
        ObjectClass("bus", "vehicle.bus.rigid", (11.0, 1.0, 9.0), (2.95, 0.1, 2.7), (3.4, 0.2, 3.0)),
        ObjectClass("trailer", "vehicle.trailer", (10.0, 2.0, 6.0), (2.8, 0.15, 2.4), (3.6, 0.3, 2.8)),
        ObjectClass("barrier", "movable_object.barrier", (0.5, 0.08, 0.35), (2.4, 0.3, 1.6), (1.0, 0.08, 0.8)),
        ObjectClass("motorcycle", "vehicle.motorcycle", (2.1, 0.15, 1.7), (0.8, 0.08, 0.6), (1.45, 0.1, 1.2)),
        ObjectClass("bicycle", "vehicle.bicycle", (1.75, 0.12, 1.4), (0.6, 0.06, 0.45), (1.3, 0.1, 1.05)),
        ObjectClass("pedestrian", "human.pedestrian.adult", (0.7, 0.1, 0.45), (0.65, 0.08, 0.45), (1.75, 0.1, 1.5)),
        ObjectClass(
            "traffic_cone", "movable_object.trafficcone", (0.42, 0.06, 0.3), (0.42, 0.06, 0.3), (0.9, 0.12, 0.6)
        ),
    )
}
DETECTION_NAMES: tuple[str, ...] = tuple(CLASSES)
CYCLES = ("bicycle", "motorcycle")

Part = tuple[float, float, float, float, float, float, int]  # centre x y z, half l w h, material id


def sample_size(rng: np.random.Generator, name: str, rider: bool = False) -> tuple[float, float, float]:
    """Draw `(l, w, h)` of the annotated box; a cycle with a rider is taller."""
    spec = CLASSES[name]
    dims = [max(minimum, rng.normal(mean, std)) for mean, std, minimum in (spec.length, spec.width, spec.height)]
    if rider:
        dims[2] = max(1.55, rng.normal(1.75, 0.08))
    return dims[0], dims[1], dims[2]


def _block(size, x: tuple, y: tuple, z: tuple, material: str) -> Part:
    """A part spanning fractions `x`, `y` in [-0.5, 0.5] and `z` in [0, 1] of the inner size."""
    length, width, height = size
    x0, x1 = x[0] * length, x[1] * length
    y0, y1 = y[0] * width, y[1] * width
    z0, z1 = z[0] * height, z[1] * height
    return (
        (x0 + x1) / 2,
        (y0 + y1) / 2,
        (z0 + z1) / 2,
        (x1 - x0) / 2,
        (y1 - y0) / 2,
        (z1 - z0) / 2,
        MATERIAL_ID[material],
    )


def _wheels(size, z1: float, front: float = 0.33, back: float = -0.33) -> list[Part]:
    return [
        _block(size, (c - 0.09, c + 0.09), side, (0.0, z1), "tire")
        for c in (front, back)
        for side in ((-0.5, -0.38), (0.38, 0.5))
    ]


def build_parts(
    rng: np.random.Generator, name: str, size: tuple[float, float, float], rider: bool = False
) -> list[Part]:
    """The parts of one object whose annotated box is `size` = (l, w, h)."""
    inner = (size[0] - 2 * ANNOTATION_MARGIN, size[1] - 2 * ANNOTATION_MARGIN, size[2] - 2 * ANNOTATION_MARGIN)
    paint = VEHICLE_PAINTS[rng.integers(len(VEHICLE_PAINTS))]
    clothes = CLOTHES[rng.integers(len(CLOTHES))]
    if name == "car":
        return [
            _block(inner, (-0.5, 0.5), (-0.5, 0.5), (0.14, 0.55), paint),
            _block(inner, (-0.32, 0.18), (-0.44, 0.44), (0.55, 1.0), "glass"),
            *_wheels(inner, 0.2),
        ]
    if name == "truck":
        return [
            _block(inner, (0.24, 0.5), (-0.5, 0.5), (0.12, 0.78), paint),
            _block(inner, (0.3, 0.46), (-0.45, 0.45), (0.55, 0.75), "glass"),
            _block(inner, (-0.5, 0.22), (-0.5, 0.5), (0.14, 1.0), "truck_cargo"),
            *_wheels(inner, 0.14, 0.36, -0.3),
        ]
    if name == "bus":
        return [_block(inner, (-0.5, 0.5), (-0.5, 0.5), (0.1, 1.0), "bus_body"), *_wheels(inner, 0.1, 0.38, -0.3)]
    if name == "trailer":
        return [
            _block(inner, (-0.5, 0.4), (-0.5, 0.5), (0.22, 1.0), "trailer_box"),
            _block(inner, (0.4, 0.5), (-0.08, 0.08), (0.22, 0.3), "construction_dark"),
            *_wheels(inner, 0.22, -0.25, -0.4),
        ]
    if name == "construction_vehicle":
        return [
            _block(inner, (-0.5, 0.2), (-0.5, 0.5), (0.0, 0.22), "construction_dark"),
            _block(inner, (-0.5, 0.2), (-0.5, 0.5), (0.22, 0.55), "construction_yellow"),
            _block(inner, (-0.25, 0.1), (-0.4, 0.3), (0.55, 1.0), "glass"),
            _block(inner, (0.2, 0.5), (-0.15, 0.15), (0.3, 0.85), "construction_yellow"),
            _block(inner, (0.42, 0.5), (-0.5, 0.5), (0.0, 0.3), "construction_dark"),
        ]
    if name == "pedestrian":
        return [
            _block(inner, (-0.2, 0.2), (-0.4, -0.05), (0.0, 0.47), "clothes_dark"),
            _block(inner, (-0.2, 0.2), (0.05, 0.4), (0.0, 0.47), "clothes_dark"),
            _block(inner, (-0.3, 0.3), (-0.5, 0.5), (0.47, 0.84), clothes),
            _block(inner, (-0.2, 0.2), (-0.2, 0.2), (0.87, 1.0), "skin"),
        ]
    if name in CYCLES:
        frame = "bicycle_frame" if name == "bicycle" else "motorcycle_body"
        wheel_top = 0.75 if not rider else 0.42
        body_top = 1.0 if not rider else 0.6
        parts = [
            _block(inner, (-0.5, -0.22), (-0.12, 0.12), (0.0, wheel_top), "tire"),
            _block(inner, (0.22, 0.5), (-0.12, 0.12), (0.0, wheel_top), "tire"),
            _block(inner, (-0.22, 0.22), (-0.2, 0.2), (0.2, body_top * (0.75 if name == "bicycle" else 0.8)), frame),
            _block(inner, (0.15, 0.25), (-0.5, 0.5), (0.72 * body_top, body_top), frame),
        ]
        if rider:
            parts += [
                _block(inner, (-0.2, 0.08), (-0.3, 0.3), (0.6, 0.88), clothes),
                _block(inner, (-0.12, 0.04), (-0.14, 0.14), (0.9, 1.0), "skin"),
            ]
        return parts
    if name == "traffic_cone":
        return [
            _block(inner, (-0.5, 0.5), (-0.5, 0.5), (0.0, 0.06), "cone"),
            _block(inner, (-0.32, 0.32), (-0.32, 0.32), (0.06, 0.5), "cone"),
            _block(inner, (-0.18, 0.18), (-0.18, 0.18), (0.5, 1.0), "cone"),
        ]
    if name == "barrier":
        return [
            _block(inner, (-0.5, 0.5), (-0.5, 0.5), (0.0, 0.25), "barrier"),
            _block(inner, (-0.25, 0.25), (-0.5, 0.5), (0.25, 1.0), "barrier"),
        ]
    raise ValueError(f"unknown detection class {name!r}")
