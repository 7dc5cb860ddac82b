"""Colours (BGR, OpenCV's order): one per detection class, and a height colour map for LiDAR points."""

from __future__ import annotations

import colorsys
import zlib

import cv2
import numpy as np

Color = tuple[int, int, int]

# The nuScenes detection classes, picked to stay apart from each other on camera images and on the dark BEV.
CLASS_COLORS: dict[str, Color] = {
    "car": (0, 158, 255),  # orange
    "truck": (0, 230, 255),  # yellow
    "construction_vehicle": (60, 110, 170),  # brown
    "bus": (60, 60, 255),  # red
    "trailer": (200, 120, 255),  # pink
    "barrier": (190, 190, 190),  # grey
    "motorcycle": (230, 230, 0),  # cyan
    "bicycle": (60, 210, 60),  # green
    "pedestrian": (255, 120, 40),  # blue
    "traffic_cone": (255, 60, 170),  # violet
}
BEV_BACKGROUND: Color = (28, 28, 28)
RING_COLOR: Color = (90, 90, 90)
EGO_COLOR: Color = (245, 245, 245)
TEXT_COLOR: Color = (15, 15, 15)
# LiDAR-frame heights (metres) the point colours span: the nuScenes LiDAR sits 1.84 m above the road, so the
# road is dark blue and objects run through green to red.
DEFAULT_HEIGHT_RANGE = (-2.0, 2.0)


def class_color(name: str) -> Color:
    """The class's colour; other names get a stable colour from a hash of the name."""
    if name in CLASS_COLORS:
        return CLASS_COLORS[name]
    hue = (zlib.crc32(name.encode()) % 360) / 360.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.8, 1.0)
    return int(blue * 255), int(green * 255), int(red * 255)


_HEIGHT_LUT = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0]


def height_colors(heights: np.ndarray, height_range: tuple[float, float]) -> np.ndarray:
    """`(P,)` heights (metres) -> `(P, 3)` uint8 BGR on the turbo map, from blue at the low end to red at the high."""
    low, high = height_range
    scaled = np.clip((np.asarray(heights, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    return _HEIGHT_LUT[np.rint(scaled * 255).astype(np.intp)]
