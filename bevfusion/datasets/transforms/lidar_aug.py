"""Global LiDAR-frame augmentation of points and boxes, recorded in `lidar_aug`.

Each transform builds one 4x4 similarity `M`, moves points and boxes by it and sets
`lidar_aug = M @ lidar_aug`, so `inv(lidar_aug)` always maps the augmented frame back to
the key-frame LiDAR frame the calibration refers to.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bevfusion.registry import TRANSFORMS
from bevfusion.structures import flip_matrix, rotation_z_matrix, scale_matrix

from .randomness import transform_rng


def apply_lidar_transform(results: dict, matrix: np.ndarray) -> dict:
    """Move `points` (xyz columns) and `gt_bboxes_3d` by the 4x4 `matrix` and record it."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if np.array_equal(matrix, np.eye(4)):
        return results
    points = results["points"]
    points[:, :3] = points[:, :3] @ matrix[:3, :3].T.astype(np.float32) + matrix[:3, 3].astype(np.float32)
    if "gt_bboxes_3d" in results:
        results["gt_bboxes_3d"] = results["gt_bboxes_3d"].transform(matrix)
    results["lidar_aug"] = matrix @ results.get("lidar_aug", np.eye(4))
    return results


@TRANSFORMS.register_module()
class GlobalRotScaleTrans:
    """Random rotation about z (radians), uniform scale and Gaussian translation (metres, per axis std)."""

    def __init__(
        self,
        rot_range: Sequence[float] = (-0.78539816, 0.78539816),
        scale_ratio_range: Sequence[float] = (0.95, 1.05),
        translation_std: Sequence[float] = (0.0, 0.0, 0.0),
        seed: int | None = None,
    ) -> None:
        self.rot_range = tuple(rot_range)
        self.scale_ratio_range = tuple(scale_ratio_range)
        self.translation_std = np.asarray(translation_std, dtype=np.float64)
        self.rng = transform_rng(seed)

    def __call__(self, results: dict) -> dict:
        rotation = rotation_z_matrix(self.rng.uniform(*self.rot_range)).numpy()
        scale = scale_matrix(self.rng.uniform(*self.scale_ratio_range)).numpy()
        translation = np.eye(4)
        translation[:3, 3] = self.rng.normal(0.0, 1.0, 3) * self.translation_std
        return apply_lidar_transform(results, translation @ scale @ rotation)


@TRANSFORMS.register_module()
class RandomFlip3D:
    """Random BEV mirror: `horizontal` negates y, `vertical` negates x, each with its own probability."""

    def __init__(
        self, flip_ratio_bev_horizontal: float = 0.5, flip_ratio_bev_vertical: float = 0.5, seed: int | None = None
    ) -> None:
        self.ratios = {"horizontal": flip_ratio_bev_horizontal, "vertical": flip_ratio_bev_vertical}
        self.rng = transform_rng(seed)

    def __call__(self, results: dict) -> dict:
        matrix = np.eye(4)
        for axis, ratio in self.ratios.items():
            if self.rng.uniform() < ratio:
                matrix = flip_matrix(axis).numpy() @ matrix
        return apply_lidar_transform(results, matrix)
