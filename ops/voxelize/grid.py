"""The voxel grid all voxelize implementations share: cell size, origin and cell counts, validated once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class VoxelGrid:
    """`dims` cells of `size` per axis (x, y, z) starting at `origin`; cell = floor((p - origin) / size)."""

    size: tuple[float, float, float]
    origin: tuple[float, float, float]
    dims: tuple[int, int, int]


def voxel_grid(voxel_size: Sequence[float], point_range: Sequence[float]) -> VoxelGrid:
    """The grid covering `point_range` (x_min, y_min, z_min, x_max, y_max, z_max), half-open at the max side.

    Each axis gets round((max - min) / size) cells, so a range that is a whole number of voxels
    (up to float rounding) is covered exactly.
    """
    voxel_size = tuple(float(v) for v in voxel_size)
    point_range = tuple(float(v) for v in point_range)
    if len(voxel_size) != 3 or not all(v > 0 for v in voxel_size):
        raise ValueError(f"voxel_size must be 3 positive numbers (x, y, z), got {voxel_size}")
    if len(point_range) != 6:
        raise ValueError(f"point_range must be 6 numbers (x_min, y_min, z_min, x_max, y_max, z_max), got {point_range}")
    dims = tuple(round((point_range[a + 3] - point_range[a]) / voxel_size[a]) for a in range(3))
    if not all(d >= 1 for d in dims):
        raise ValueError(f"point_range {point_range} must span at least one voxel of {voxel_size} on every axis")
    if max(dims) >= 2**31 or math.prod(dims) >= 2**62:
        raise ValueError(f"voxel grid {dims} from point_range {point_range} and voxel_size {voxel_size} is too large")
    return VoxelGrid(size=voxel_size, origin=point_range[:3], dims=dims)


def check_points(op: str, points: torch.Tensor) -> None:
    """Raise a clear error unless `points` is a floating `(P, C >= 3)` tensor."""
    if points.dim() != 2 or points.shape[1] < 3 or not points.is_floating_point():
        raise ValueError(
            f"{op}: points must be a float tensor (P, C >= 3) with x, y, z first, got {tuple(points.shape)} "
            f"{points.dtype}"
        )
