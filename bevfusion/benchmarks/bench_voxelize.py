"""Voxelization next to spconv's `PointToVoxel` and our PyTorch reference, on a 10-sweep LiDAR cloud.

Workload of the BEVFusion LiDAR branch: 0.075 m voxels over +-54 m x/y, 0.2 m over z in
[-5, 3), 5 features, at most 10 points per voxel, 120000 (train) and 160000 (test) voxels.
The floor is the bytes an ideal kernel moves: read every point once, write the voxel
tensor, coordinates and counts once.
"""

from __future__ import annotations

import argparse

import torch

from bevfusion.benchmarks.lidar_cloud import lidar_cloud
from bevfusion.benchmarks.timing import median_seconds
from bevfusion.ops.voxelize import dynamic_voxelize, hard_voxelize, voxel_grid
from bevfusion.ops.voxelize.reference import dynamic_voxelize_reference, hard_voxelize_reference

VOXEL_SIZE = (0.075, 0.075, 0.2)
POINT_RANGE = (-54.0, -54.0, -5.0, 54.0, 54.0, 3.0)
MAX_POINTS = 10
MAX_VOXELS = (120000, 160000)


def _floor_bytes(points: torch.Tensor, voxels: torch.Tensor) -> int:
    return points.numel() * 4 + voxels.numel() * 4 + len(voxels) * 4 * 4


def _spconv_point_to_voxel(device: str, features: int, max_voxels: int):
    """spconv's voxelizer for the workload, or None when spconv is not installed."""
    try:
        from spconv.pytorch.utils import PointToVoxel
    except ImportError:
        return None
    return PointToVoxel(
        vsize_xyz=list(VOXEL_SIZE),
        coors_range_xyz=list(POINT_RANGE),
        num_point_features=features,
        max_num_voxels=max_voxels,
        max_num_points_per_voxel=MAX_POINTS,
        device=torch.device(device),
    )


def run(args: argparse.Namespace) -> list[dict]:
    points = lidar_cloud(sweeps=10).to(args.device)
    grid = voxel_grid(VOXEL_SIZE, POINT_RANGE)
    rows = []
    for max_voxels in MAX_VOXELS:
        voxels, _, _ = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, MAX_POINTS, max_voxels)
        floor = _floor_bytes(points, voxels)
        common = {"points": len(points), "voxels": len(voxels), "max_voxels": max_voxels}
        ours = median_seconds(
            lambda mv=max_voxels: hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, MAX_POINTS, mv),
            repeats=args.repeats,
            device=args.device,
        )
        reference = median_seconds(
            lambda mv=max_voxels: hard_voxelize_reference(points, grid, MAX_POINTS, mv),
            repeats=1,
            warmup=0,
            device=args.device,
        )
        row = {"op": "hard_voxelize", "variant": f"native_{args.device}", "seconds": ours, **common}
        row["floor_bytes"] = floor
        row["gbytes_per_s"] = floor / ours / 1e9
        row["speedup_vs_reference"] = reference / ours
        spconv = _spconv_point_to_voxel(args.device, points.shape[1], max_voxels)
        if spconv is not None:
            baseline = median_seconds(lambda s=spconv: s(points), repeats=args.repeats, device=args.device)
            row["speedup_vs_spconv"] = baseline / ours
            rows.append({"op": "hard_voxelize", "variant": "spconv_PointToVoxel", "seconds": baseline, **common})
        rows.append(row)
        rows.append({"op": "hard_voxelize", "variant": "torch_reference", "seconds": reference, **common})
    mean = median_seconds(
        lambda: hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, MAX_POINTS, MAX_VOXELS[0], reduce="mean"),
        repeats=args.repeats,
        device=args.device,
    )
    rows.append({"op": "hard_voxelize_mean", "variant": f"native_{args.device}", "seconds": mean})
    ours = median_seconds(
        lambda: dynamic_voxelize(points, VOXEL_SIZE, POINT_RANGE), repeats=args.repeats, device=args.device
    )
    reference = median_seconds(
        lambda: dynamic_voxelize_reference(points, grid), repeats=args.repeats, device=args.device
    )
    rows.append(
        {
            "op": "dynamic_voxelize",
            "variant": f"native_{args.device}",
            "seconds": ours,
            "speedup_vs_reference": reference / ours,
        }
    )
    rows.append({"op": "dynamic_voxelize", "variant": "torch_reference", "seconds": reference})
    return rows
