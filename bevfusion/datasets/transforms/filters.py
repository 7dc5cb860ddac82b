"""Filters on points and boxes, and point shuffling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from bevfusion.registry import TRANSFORMS

from .randomness import transform_rng


def keep_boxes(results: dict, mask: np.ndarray) -> dict:
    """Keep the ground-truth boxes (and their labels) where `mask` is true."""
    mask = np.asarray(mask, dtype=bool)
    results["gt_bboxes_3d"] = results["gt_bboxes_3d"][torch.from_numpy(mask)]
    results["gt_labels_3d"] = results["gt_labels_3d"][mask]
    return results


@TRANSFORMS.register_module()
class PointsRangeFilter:
    """Drop points outside `point_cloud_range` `(x_min, y_min, z_min, x_max, y_max, z_max)` (half-open)."""

    def __init__(self, point_cloud_range: Sequence[float]) -> None:
        self.low = np.asarray(point_cloud_range[:3], dtype=np.float32)
        self.high = np.asarray(point_cloud_range[3:], dtype=np.float32)

    def __call__(self, results: dict) -> dict:
        points = results["points"]
        inside = (points[:, 0] >= self.low[0]) & (points[:, 0] < self.high[0])
        for axis in (1, 2):  # column by column: numpy's row-wise all() over 3 values is slow
            inside &= (points[:, axis] >= self.low[axis]) & (points[:, axis] < self.high[axis])
        results["points"] = np.compress(inside, points, axis=0)
        return results


@TRANSFORMS.register_module()
class ObjectRangeFilter:
    """Drop boxes whose BEV centre lies outside the x/y extent of `point_cloud_range`."""

    def __init__(self, point_cloud_range: Sequence[float]) -> None:
        self.low = np.asarray([point_cloud_range[0], point_cloud_range[1]])
        self.high = np.asarray([point_cloud_range[3], point_cloud_range[4]])

    def __call__(self, results: dict) -> dict:
        centre = results["gt_bboxes_3d"].tensor[:, :2].numpy()
        return keep_boxes(results, ((centre >= self.low) & (centre < self.high)).all(axis=1))


@TRANSFORMS.register_module()
class ObjectNameFilter:
    """Keep boxes whose label indexes one of `classes` (drops the -1 'ignore' labels)."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.num_classes = len(classes)

    def __call__(self, results: dict) -> dict:
        labels = results["gt_labels_3d"]
        return keep_boxes(results, (labels >= 0) & (labels < self.num_classes))


@TRANSFORMS.register_module()
class PointShuffle:
    """Shuffle the point order (hard voxelization keeps the first points of each voxel)."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = transform_rng(seed)

    def __call__(self, results: dict) -> dict:
        results["points"] = np.take(results["points"], self.rng.permutation(len(results["points"])), axis=0)
        return results
