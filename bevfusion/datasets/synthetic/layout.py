"""The street layout of one scene: a main road with a cross street, sidewalks and grass.

Positions are sampled in a *road frame* (main road along +x, centred on y = 0, cross
street along y at `cross_x`) and placed in the global frame by a rotation and an offset
that keeps the whole map in positive coordinates, as nuScenes map masks expect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .materials import MATERIAL_ID

ROAD_HALF_WIDTH = 7.0  # two 3.5 m lanes each way
SIDEWALK_WIDTH = 4.0
LANE_WIDTH = 3.5
MAP_MARGIN = 20.0  # metres of map around the area the scene uses


@dataclass(frozen=True)
class RoadLayout:
    theta: float  # heading of the road frame's x axis in the global frame
    offset: tuple[float, float]  # global position of the road frame origin
    cross_x: float  # road-frame x of the cross street's centre line
    map_size: tuple[float, float]  # global extent (x, y) of the map in metres, from the origin

    @classmethod
    def around(cls, theta: float, cross_x: float, x_range: tuple[float, float], y_half: float) -> RoadLayout:
        """A layout whose map covers road-frame `x_range` x [-y_half, y_half] with a margin."""
        corners = np.array([[x, y] for x in x_range for y in (-y_half, y_half)])
        rotated = corners @ _rotation(theta).T
        offset = MAP_MARGIN - rotated.min(0)
        size = rotated.max(0) + offset + MAP_MARGIN
        return cls(theta, (float(offset[0]), float(offset[1])), cross_x, (float(size[0]), float(size[1])))

    def to_global(self, xy: np.ndarray) -> np.ndarray:
        return np.asarray(xy, dtype=np.float64) @ _rotation(self.theta).T + np.asarray(self.offset)

    def to_road(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, dtype=np.float64) - np.asarray(self.offset)) @ _rotation(self.theta)

    def drivable(self, xy_global: np.ndarray) -> np.ndarray:
        """Boolean mask of points on the road surface (main road or cross street)."""
        road = self.to_road(xy_global)
        return (np.abs(road[..., 1]) < ROAD_HALF_WIDTH) | (np.abs(road[..., 0] - self.cross_x) < ROAD_HALF_WIDTH)

    def ground_material(self, xy_global: np.ndarray) -> np.ndarray:
        """Material id of the ground at global points `(..., 2)`: asphalt, paint, sidewalk, grass."""
        road = self.to_road(xy_global)
        x, y = road[..., 0], road[..., 1]
        along_main, across = np.abs(y), np.abs(x - self.cross_x)
        on_main, on_cross = along_main < ROAD_HALF_WIDTH, across < ROAD_HALF_WIDTH
        curb = ROAD_HALF_WIDTH + SIDEWALK_WIDTH
        material = np.full(x.shape, MATERIAL_ID["grass"], dtype=np.int64)
        material[(along_main < curb) | (across < curb)] = MATERIAL_ID["sidewalk"]
        material[on_main | on_cross] = MATERIAL_ID["asphalt"]
        main_only = on_main & ~on_cross
        paint = main_only & (along_main < 0.1)
        paint |= main_only & (np.abs(along_main - LANE_WIDTH) < 0.07) & (np.mod(x, 9.0) < 3.0)
        paint |= main_only & (np.abs(along_main - (ROAD_HALF_WIDTH - 0.25)) < 0.08)
        paint |= on_cross & ~on_main & (np.abs(across - (ROAD_HALF_WIDTH - 0.25)) < 0.08)
        zebra = on_main & (across > ROAD_HALF_WIDTH + 0.5) & (across < ROAD_HALF_WIDTH + 3.5)
        paint |= zebra & (np.mod(y, 1.0) < 0.5)
        material[paint] = MATERIAL_ID["lane_paint"]
        return material


def _rotation(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])
