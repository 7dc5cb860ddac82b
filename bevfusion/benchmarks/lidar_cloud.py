"""A realistic multi-sweep LiDAR cloud for benchmarks: ray-cast ground rings, cars and walls.

A 32-beam spinning LiDAR (nuScenes HDL-32E elevations) at 1.84 m height casts rays against
the ground plane, box-shaped cars and two street walls; the ego drives forward between
sweeps, which are merged into the key frame. Density falls with range as on the real sensor.
"""

from __future__ import annotations

import math

import torch

SENSOR_HEIGHT = 1.84
BEAM_ELEVATIONS_DEG = torch.linspace(-30.67, 10.67, 32)
AZIMUTH_STEPS = 1084
SWEEP_SECONDS = 0.05
EGO_SPEED = 10.0
MAX_RANGE = 100.0


def _scene_boxes(generator: torch.Generator, count: int = 60) -> torch.Tensor:
    """Axis-aligned cars `(count, 6)`: x_min, y_min, z_min, x_max, y_max, z_max (sensor at z = 0)."""
    centre = torch.rand(count, 2, generator=generator) * 100 - 50
    centre[:, 1] = centre[:, 1] * 0.25  # cars stay on the road band |y| < 12.5 m
    size = torch.tensor([4.5, 1.9, 1.6]) * (0.8 + 0.4 * torch.rand(count, 3, generator=generator))
    ground = -SENSOR_HEIGHT
    low = torch.cat([centre - size[:, :2] / 2, torch.full((count, 1), ground)], dim=1)
    high = torch.cat([centre + size[:, :2] / 2, ground + size[:, 2:]], dim=1)
    return torch.cat([low, high], dim=1)


def _ray_box_distance(origin: torch.Tensor, directions: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Distance along each ray to the nearest box (slab test), inf when it misses them all."""
    inverse = 1.0 / torch.where(directions.abs() < 1e-9, torch.full_like(directions, 1e-9), directions)
    t_low = (boxes[None, :, :3] - origin) * inverse[:, None]
    t_high = (boxes[None, :, 3:] - origin) * inverse[:, None]
    t_near = torch.minimum(t_low, t_high).amax(dim=2)
    t_far = torch.maximum(t_low, t_high).amin(dim=2)
    hit = (t_far >= t_near) & (t_near > 0)
    return torch.where(hit, t_near, torch.inf).amin(dim=1)


def lidar_cloud(sweeps: int = 10, seed: int = 0) -> torch.Tensor:
    """`(P, 5)` float32 points `x, y, z, intensity, time_lag` of `sweeps` merged sweeps (~30k points each)."""
    generator = torch.Generator().manual_seed(seed)
    boxes = _scene_boxes(generator)
    elevation = torch.deg2rad(BEAM_ELEVATIONS_DEG)[:, None]
    clouds = []
    for sweep in range(sweeps):
        start = torch.rand(1, generator=generator) * 2 * math.pi / AZIMUTH_STEPS  # sweeps start at random phases
        azimuth = torch.linspace(0, 2 * math.pi, AZIMUTH_STEPS + 1)[:-1] + start
        directions = torch.stack(
            [
                (torch.cos(elevation) * torch.cos(azimuth)).flatten(),
                (torch.cos(elevation) * torch.sin(azimuth)).flatten(),
                torch.sin(elevation).expand(-1, AZIMUTH_STEPS).flatten(),
            ],
            dim=1,
        )
        origin = torch.tensor([-EGO_SPEED * SWEEP_SECONDS * sweep, 0.0, 0.0])
        ground = torch.where(directions[:, 2] < 0, -SENSOR_HEIGHT / directions[:, 2].clamp(max=-1e-9), torch.inf)
        walls = (20.0 - origin[1] * directions[:, 1].sign()) / directions[:, 1].abs().clamp(min=1e-9)
        distance = torch.minimum(torch.minimum(ground, walls), _ray_box_distance(origin, directions, boxes))
        distance = distance + 0.03 * torch.randn(distance.shape, generator=generator)
        hit = distance < MAX_RANGE
        xyz = origin + directions[hit] * distance[hit, None]
        intensity = (torch.rand(len(xyz), generator=generator) * 100 / (1 + distance[hit] / 10)).round()
        time_lag = torch.full((len(xyz),), sweep * SWEEP_SECONDS)
        clouds.append(torch.cat([xyz, intensity[:, None], time_lag[:, None]], dim=1))
    return torch.cat(clouds).float()
