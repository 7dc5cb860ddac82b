"""The drivable-area map mask of a scene, in the nuScenes map-mask convention.

A nuScenes map mask is a grayscale PNG at 0.1 m per pixel whose pixel (row, col) shows
global (x, y) = (col * 0.1, (height - row) * 0.1); 255 marks the drivable area.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import RoadLayout

RESOLUTION = 0.1  # metres per pixel, the devkit's native map resolution
_ROWS_PER_CHUNK = 512


def drivable_mask(layout: RoadLayout) -> np.ndarray:
    """uint8 mask `(H, W)`: 255 on the road surface, 0 elsewhere."""
    width = math.ceil(layout.map_size[0] / RESOLUTION)
    height = math.ceil(layout.map_size[1] / RESOLUTION)
    mask = np.zeros((height, width), dtype=np.uint8)
    xs = np.arange(width) * RESOLUTION
    for start in range(0, height, _ROWS_PER_CHUNK):
        rows = np.arange(start, min(start + _ROWS_PER_CHUNK, height))
        ys = (height - rows) * RESOLUTION
        grid = np.stack(np.meshgrid(xs, ys), -1)
        mask[rows] = np.where(layout.drivable(grid), 255, 0)
    return mask
