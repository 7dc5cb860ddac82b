"""The voxelize functions: validate arguments, then run the C++ or CUDA kernel by device."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._ext import check_device, load_ops
from .grid import VoxelGrid, check_points, voxel_grid

REDUCTIONS = ("none", "mean")


def _native_args(points: torch.Tensor, grid: VoxelGrid) -> tuple:
    return points.float().contiguous(), list(grid.size), list(grid.origin), list(grid.dims)


def hard_voxelize(
    points: torch.Tensor,
    voxel_size: Sequence[float],
    point_range: Sequence[float],
    max_points_per_voxel: int,
    max_voxels: int,
    reduce: str = "none",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group points `(P, C)` into at most `max_voxels` voxels of at most `max_points_per_voxel` points.

    Voxels are numbered in order of the first point that falls into them and points keep their
    input order, so the result is deterministic; extra points and voxels are dropped, as are
    points outside `point_range` (half-open `[min, max)`). Returns `voxels` float32
    `(V, max_points_per_voxel, C)` zero-padded (`reduce='none'`) or `(V, C)` means of the kept
    points (`reduce='mean'`), `coords` `(V, 3)` int32 `(z, y, x)` and `num_points` `(V,)` int32.
    """
    check_points("hard_voxelize", points)
    if reduce not in REDUCTIONS:
        raise ValueError(f"hard_voxelize: reduce must be one of {REDUCTIONS}, got {reduce!r}")
    if max_points_per_voxel < 1 or max_voxels < 1:
        raise ValueError(
            f"hard_voxelize: max_points_per_voxel and max_voxels must be >= 1, got {max_points_per_voxel}, {max_voxels}"
        )
    grid = voxel_grid(voxel_size, point_range)
    load_ops()
    check_device("hard_voxelize", points)
    return torch.ops.bevfusion.hard_voxelize(
        *_native_args(points, grid), int(max_points_per_voxel), int(max_voxels), reduce == "mean"
    )


def dynamic_voxelize(points: torch.Tensor, voxel_size: Sequence[float], point_range: Sequence[float]) -> torch.Tensor:
    """Each point's voxel `(P, 3)` int32 `(z, y, x)`; rows of -1 for points outside `point_range`."""
    check_points("dynamic_voxelize", points)
    grid = voxel_grid(voxel_size, point_range)
    load_ops()
    check_device("dynamic_voxelize", points)
    return torch.ops.bevfusion.dynamic_voxelize(*_native_args(points, grid))


def dynamic_voxelize_mean(
    points: torch.Tensor, voxel_size: Sequence[float], point_range: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every occupied voxel's mean point, with no caps: `(features (V, C), coords (V, 3) int32 (z, y, x),
    point_to_voxel (P,) int64, -1 outside)`. Voxels are numbered by first point, as in `hard_voxelize`."""
    check_points("dynamic_voxelize_mean", points)
    grid = voxel_grid(voxel_size, point_range)
    load_ops()
    check_device("dynamic_voxelize_mean", points)
    return torch.ops.bevfusion.dynamic_voxelize_mean(*_native_args(points, grid))
