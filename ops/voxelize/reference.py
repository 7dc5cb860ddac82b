"""Pure-PyTorch references for voxelization: readable, vectorised, used by tests and benchmarks."""

from __future__ import annotations

import torch

from .grid import VoxelGrid


def voxel_cells_reference(points: torch.Tensor, grid: VoxelGrid) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-point `(z, y, x)` cells `(P, 3)` int64 and the mask of points inside the grid."""
    size = torch.tensor(grid.size, dtype=torch.float32, device=points.device)
    origin = torch.tensor(grid.origin, dtype=torch.float32, device=points.device)
    cells_xyz = torch.floor((points[:, :3].float() - origin) / size)
    dims = torch.tensor(grid.dims, dtype=torch.float32, device=points.device)
    inside = ((cells_xyz >= 0) & (cells_xyz < dims)).all(dim=1)
    return cells_xyz.flip(1).long(), inside


def dynamic_voxelize_reference(points: torch.Tensor, grid: VoxelGrid) -> torch.Tensor:
    """`(P, 3)` int32 `(z, y, x)` cells, rows of -1 for points outside the grid."""
    cells, inside = voxel_cells_reference(points, grid)
    return torch.where(inside[:, None], cells, -1).int()


def first_come_assignment_reference(
    points: torch.Tensor, grid: VoxelGrid
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every inside point's index, voxel number (by first point) and slot (earlier points in its voxel),
    plus each voxel's `(z, y, x)` cell."""
    cells, inside = voxel_cells_reference(points, grid)
    point_index = torch.nonzero(inside).flatten()
    nx, ny, _ = grid.dims
    keys = (cells[point_index, 0] * ny + cells[point_index, 1]) * nx + cells[point_index, 2]
    unique_keys, key_of_point = torch.unique(keys, return_inverse=True)
    first_point = torch.full_like(unique_keys, len(points)).scatter_reduce(0, key_of_point, point_index, "amin")
    voxel_of_key = torch.empty_like(unique_keys)
    voxel_of_key[torch.argsort(first_point)] = torch.arange(len(unique_keys), device=points.device)
    point_voxel = voxel_of_key[key_of_point]
    order = torch.argsort(point_voxel, stable=True)
    sorted_voxel = point_voxel[order]
    point_slot = torch.empty_like(point_voxel)
    point_slot[order] = torch.arange(len(order), device=points.device) - torch.searchsorted(sorted_voxel, sorted_voxel)
    voxel_cells = torch.empty((len(unique_keys), 3), dtype=torch.int64, device=points.device)
    voxel_cells[point_voxel] = cells[point_index]
    return point_index, point_voxel, point_slot, voxel_cells


def hard_voxelize_reference(
    points: torch.Tensor, grid: VoxelGrid, max_points_per_voxel: int, max_voxels: int, reduce: str = "none"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(voxels, coords, num_points)` as `bevfusion.ops.voxelize.hard_voxelize` defines them."""
    point_index, point_voxel, point_slot, voxel_cells = first_come_assignment_reference(points, grid)
    num_voxels = min(len(voxel_cells), max_voxels)
    kept = (point_voxel < num_voxels) & (point_slot < max_points_per_voxel)
    voxels = points.new_zeros((num_voxels, max_points_per_voxel, points.shape[1]), dtype=torch.float32)
    voxels[point_voxel[kept], point_slot[kept]] = points[point_index[kept]].float()
    num_points = torch.bincount(point_voxel[kept], minlength=num_voxels).int()
    if reduce == "mean":
        voxels = voxels.sum(dim=1) / num_points[:, None]
    return voxels, voxel_cells[:num_voxels].int(), num_points


def dynamic_voxelize_mean_reference(
    points: torch.Tensor, grid: VoxelGrid
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(features, coords, point_to_voxel)` as `bevfusion.ops.voxelize.dynamic_voxelize_mean` defines them."""
    point_index, point_voxel, _, voxel_cells = first_come_assignment_reference(points, grid)
    num_voxels = len(voxel_cells)
    sums = points.new_zeros((num_voxels, points.shape[1]), dtype=torch.float32)
    sums.index_add_(0, point_voxel, points[point_index].float())
    counts = torch.bincount(point_voxel, minlength=num_voxels)
    point_to_voxel = torch.full((len(points),), -1, dtype=torch.int64, device=points.device)
    point_to_voxel[point_index] = point_voxel
    return sums / counts[:, None], voxel_cells.int(), point_to_voxel
