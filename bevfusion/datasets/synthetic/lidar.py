"""A ray-cast spinning LiDAR: 32 beams against the ground plane and every box of the world.

Each box is tested only against the firing columns its corners span in azimuth, so a
scan costs about (rays near boxes) slab tests instead of (all rays) x (all boxes).
Points come out in the LiDAR frame as `x, y, z, intensity, ring` float32, like nuScenes.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import RoadLayout
from .materials import REFLECTIVITY
from .rig import LIDAR_AZIMUTH_STEPS, LIDAR_ELEVATIONS_DEG, LIDAR_MAX_RANGE

RANGE_NOISE = 0.01  # metres, 1 sigma
DROPOUT = 0.01  # fraction of returns lost


def beam_directions() -> np.ndarray:
    """Unit ray directions `(32, A, 3)` in the LiDAR frame, ring 0 the lowest beam."""
    elevation = np.radians(LIDAR_ELEVATIONS_DEG)[:, None]
    azimuth = (np.arange(LIDAR_AZIMUTH_STEPS) * (2 * math.pi / LIDAR_AZIMUTH_STEPS))[None, :]
    return np.stack(
        np.broadcast_arrays(
            np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)
        ),
        -1,
    )


def scan(lidar2global: np.ndarray, primitives: np.ndarray, layout: RoadLayout, rng: np.random.Generator) -> np.ndarray:
    """One sweep from the sensor pose `lidar2global` (4x4, no roll or pitch): points `(N, 5)` float32.

    `primitives` rows are global boxes `cx cy cz hl hw hh yaw material` (see `SceneWorld.primitives`).
    """
    local_dirs = beam_directions()
    rotation, origin = lidar2global[:3, :3], lidar2global[:3, 3]
    dirs = local_dirs @ rotation.T
    down = dirs[..., 2] < -1e-9  # rays that reach the ground plane z = 0
    distance = np.where(down, -origin[2] / np.where(down, dirs[..., 2], -1.0), np.inf)
    incidence = np.where(down, -dirs[..., 2], 1.0)
    material = np.zeros(local_dirs.shape[:2], dtype=np.int64)
    hit_ground = np.isfinite(distance)
    ground_xy = origin[:2] + dirs[..., :2] * np.where(hit_ground, distance, 0.0)[..., None]
    material[hit_ground] = layout.ground_material(ground_xy[hit_ground])

    sensor_yaw = math.atan2(rotation[1, 0], rotation[0, 0])
    box_index, columns = _columns_spanned(primitives, origin, sensor_yaw)
    if len(box_index):
        boxes = primitives[box_index]
        t, cosine = _slab_hits(boxes[None], origin, dirs[:, columns])
        flat = (np.arange(dirs.shape[0])[:, None] * dirs.shape[1] + columns[None]).ravel()
        t, cosine = t.ravel(), cosine.ravel()
        box_material = np.broadcast_to(boxes[None, :, 7], (dirs.shape[0], len(boxes))).ravel().astype(np.int64)
        nearest = distance.ravel().copy()
        np.minimum.at(nearest, flat, t)
        winners = np.nonzero(np.isfinite(t) & (t <= nearest[flat]))[0]  # the nearest hit of each ray
        for array, values in ((incidence, cosine), (material, box_material)):
            array.ravel()[flat[winners]] = values[winners]
        distance = nearest.reshape(distance.shape)

    keep = (distance < LIDAR_MAX_RANGE) & (rng.random(distance.shape) > DROPOUT)
    noisy = distance + rng.normal(0.0, RANGE_NOISE, distance.shape)
    ring = np.broadcast_to(np.arange(local_dirs.shape[0])[:, None], distance.shape)
    intensity = np.round(np.clip(255 * REFLECTIVITY[material] * (0.25 + 0.75 * incidence), 0, 255))
    # Firing order: azimuth column by column, all beams of a column together.
    keep_t, dirs_t = keep.T, local_dirs.transpose(1, 0, 2)
    xyz = dirs_t[keep_t] * noisy.T[keep_t][:, None]
    columns = [xyz, intensity.T[keep_t][:, None], ring.T[keep_t][:, None]]
    return np.concatenate(columns, 1).astype(np.float32)


def _columns_spanned(boxes: np.ndarray, origin: np.ndarray, sensor_yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """(box index, firing column) pairs whose azimuth can hit the box; boxes out of range give none."""
    offset = boxes[:, :2] - origin[:2]
    radius = np.hypot(boxes[:, 3], boxes[:, 4])
    centre_distance = np.hypot(offset[:, 0], offset[:, 1])
    steps = LIDAR_AZIMUTH_STEPS
    step = 2 * math.pi / steps
    cos, sin = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    signs = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    along, across = signs[None, :, 0] * boxes[:, None, 3], signs[None, :, 1] * boxes[:, None, 4]
    corner_x = offset[:, None, 0] + along * cos[:, None] - across * sin[:, None]
    corner_y = offset[:, None, 1] + along * sin[:, None] + across * cos[:, None]
    centre_angle = np.arctan2(offset[:, 1], offset[:, 0])
    deltas = np.angle(np.exp(1j * (np.arctan2(corner_y, corner_x) - centre_angle[:, None])))
    first = np.floor((centre_angle - sensor_yaw + deltas.min(1)) / step).astype(np.int64)
    last = np.ceil((centre_angle - sensor_yaw + deltas.max(1)) / step).astype(np.int64)
    surrounding = centre_distance <= radius + 0.5
    first[surrounding], last[surrounding] = 0, steps - 1
    in_range = centre_distance - radius <= LIDAR_MAX_RANGE
    counts = np.where(in_range, last - first + 1, 0)
    box_index = np.repeat(np.arange(len(boxes)), counts)
    starts = np.repeat(first - np.cumsum(counts) + counts, counts)
    return box_index, (np.arange(counts.sum()) + starts) % steps


def _slab_hits(boxes: np.ndarray, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry distance of rays `dirs (..., 3)` from `origin` into boxes `(..., 8)` (inf: miss), |cos incidence|."""
    cos, sin = np.cos(boxes[..., 6]), np.sin(boxes[..., 6])
    rx, ry = origin[0] - boxes[..., 0], origin[1] - boxes[..., 1]
    local_origin = (cos * rx + sin * ry, -sin * rx + cos * ry, origin[2] - boxes[..., 2])
    local_dirs = (cos * dirs[..., 0] + sin * dirs[..., 1], -sin * dirs[..., 0] + cos * dirs[..., 1], dirs[..., 2])
    entry, exit_, cosine = None, None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(3):
            inverse = 1.0 / local_dirs[axis]
            first = (-boxes[..., 3 + axis] - local_origin[axis]) * inverse
            second = (boxes[..., 3 + axis] - local_origin[axis]) * inverse
            near, far = np.minimum(first, second), np.maximum(first, second)
            if entry is None:
                entry, exit_, cosine = near, far, np.abs(local_dirs[axis])
                continue
            later = near > entry
            entry = np.where(later, near, entry)
            cosine = np.where(later, np.abs(local_dirs[axis]), cosine)
            exit_ = np.minimum(exit_, far)
    hit = (entry <= exit_) & (entry > 0)
    return np.where(hit, entry, np.inf), cosine
