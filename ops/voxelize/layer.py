"""`Voxelization`: hard voxelization settings held in an `nn.Module`, as the data preprocessor uses them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .functions import REDUCTIONS, hard_voxelize
from .grid import voxel_grid


class Voxelization(nn.Module):
    """Hard-voxelizes one point cloud with fixed settings.

    `max_voxels` is one number, or a pair `(training, testing)` picked by the module's mode
    (the reference configs use 120000 for training and 160000 for testing).
    """

    def __init__(
        self,
        voxel_size: Sequence[float],
        point_range: Sequence[float],
        max_points_per_voxel: int,
        max_voxels: int | Sequence[int],
        reduce: str = "none",
    ) -> None:
        super().__init__()
        voxel_grid(voxel_size, point_range)  # fail at construction, not at the first batch
        self.voxel_size = tuple(float(v) for v in voxel_size)
        self.point_range = tuple(float(v) for v in point_range)
        self.max_points_per_voxel = int(max_points_per_voxel)
        pair = (max_voxels, max_voxels) if isinstance(max_voxels, int) else tuple(max_voxels)
        if len(pair) != 2:
            raise ValueError(f"Voxelization: max_voxels must be an int or a (training, testing) pair, got {max_voxels}")
        self.max_voxels = (int(pair[0]), int(pair[1]))
        if reduce not in REDUCTIONS:
            raise ValueError(f"Voxelization: reduce must be one of {REDUCTIONS}, got {reduce!r}")
        self.reduce = reduce

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        max_voxels = self.max_voxels[0] if self.training else self.max_voxels[1]
        return hard_voxelize(
            points, self.voxel_size, self.point_range, self.max_points_per_voxel, max_voxels, self.reduce
        )

    def extra_repr(self) -> str:
        return (
            f"voxel_size={self.voxel_size}, point_range={self.point_range}, "
            f"max_points_per_voxel={self.max_points_per_voxel}, max_voxels={self.max_voxels}, reduce={self.reduce!r}"
        )
