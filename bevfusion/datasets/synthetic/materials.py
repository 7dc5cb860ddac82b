"""Surface materials shared by the LiDAR (reflectivity) and the cameras (colour, texture).

Every primitive and every ground cell carries a material id; both sensors look it up
here, so what the LiDAR sees bright the camera can also tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Material:
    name: str
    rgb: tuple[int, int, int]
    reflectivity: float  # LiDAR return strength in [0, 1]
    texture: str = "plain"  # plain | windows | stripes | band | window_band | ribs
    accent_rgb: tuple[int, int, int] = (255, 255, 255)


_MATERIALS = [
    # ground
    Material("asphalt", (78, 78, 82), 0.08),
    Material("lane_paint", (225, 225, 215), 0.55),
    Material("sidewalk", (160, 155, 148), 0.22),
    Material("grass", (70, 110, 55), 0.12),
    # static structure
    Material("building_brick", (150, 84, 64), 0.25, "windows", (40, 52, 70)),
    Material("building_concrete", (185, 180, 170), 0.3, "windows", (45, 58, 78)),
    Material("building_glass", (95, 120, 140), 0.15, "windows", (35, 45, 60)),
    Material("pole", (110, 112, 118), 0.45),
    Material("wall", (170, 160, 140), 0.3, "ribs", (140, 130, 112)),
    Material("bark", (90, 70, 50), 0.2),
    Material("foliage", (55, 105, 45), 0.18, "stripes", (70, 125, 55)),
    # vehicles
    Material("paint_red", (170, 30, 35), 0.5),
    Material("paint_blue", (35, 55, 140), 0.5),
    Material("paint_silver", (175, 178, 182), 0.55),
    Material("paint_black", (30, 30, 34), 0.35),
    Material("paint_white", (225, 225, 228), 0.6),
    Material("paint_green", (50, 95, 70), 0.5),
    Material("glass", (40, 55, 70), 0.1),
    Material("tire", (20, 20, 20), 0.05),
    Material("truck_cargo", (215, 215, 205), 0.6, "ribs", (180, 180, 170)),
    Material("bus_body", (30, 120, 170), 0.55, "window_band", (25, 35, 45)),
    Material("trailer_box", (130, 95, 70), 0.5, "ribs", (100, 70, 50)),
    Material("construction_yellow", (235, 180, 20), 0.6),
    Material("construction_dark", (45, 40, 35), 0.3),
    # people and two-wheelers
    Material("clothes_dark", (45, 45, 60), 0.2),
    Material("clothes_red", (160, 40, 50), 0.25),
    Material("clothes_light", (200, 190, 160), 0.3),
    Material("skin", (205, 160, 130), 0.3),
    Material("bicycle_frame", (40, 170, 120), 0.4),
    Material("motorcycle_body", (200, 110, 20), 0.45),
    # movable objects
    Material("cone", (250, 110, 20), 0.7, "band", (245, 245, 245)),
    Material("barrier", (200, 35, 35), 0.75, "stripes", (240, 240, 240)),
]

MATERIALS: tuple[Material, ...] = tuple(_MATERIALS)
MATERIAL_ID: dict[str, int] = {m.name: i for i, m in enumerate(MATERIALS)}
REFLECTIVITY = np.array([m.reflectivity for m in MATERIALS], dtype=np.float32)
BASE_RGB = np.array([m.rgb for m in MATERIALS], dtype=np.float32)
ACCENT_RGB = np.array([m.accent_rgb for m in MATERIALS], dtype=np.float32)
TEXTURES = ("plain", "windows", "stripes", "band", "window_band", "ribs")
TEXTURE_ID = np.array([TEXTURES.index(m.texture) for m in MATERIALS], dtype=np.int64)

VEHICLE_PAINTS = ("paint_red", "paint_blue", "paint_silver", "paint_black", "paint_white", "paint_green")
CLOTHES = ("clothes_dark", "clothes_red", "clothes_light")
