"""Voxelization of LiDAR points: hard (capped, first-come) and dynamic (every point), by device."""

from .functions import REDUCTIONS, dynamic_voxelize, dynamic_voxelize_mean, hard_voxelize
from .grid import VoxelGrid, voxel_grid
from .layer import Voxelization

__all__ = [
    "REDUCTIONS",
    "VoxelGrid",
    "Voxelization",
    "dynamic_voxelize",
    "dynamic_voxelize_mean",
    "hard_voxelize",
    "voxel_grid",
]
