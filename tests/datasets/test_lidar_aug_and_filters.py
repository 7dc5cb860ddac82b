"""Global LiDAR augmentation keeps points with their boxes and is undone by inv(lidar_aug); filters."""

import numpy as np
import pytest
import torch

from bevfusion.datasets.transforms import (
    GlobalRotScaleTrans,
    ObjectNameFilter,
    ObjectRangeFilter,
    PointShuffle,
    PointsRangeFilter,
    RandomFlip3D,
)
from bevfusion.structures import LiDARBoxes


def _scene(seed=0, num_boxes=6, num_points=3000):
    rng = np.random.default_rng(seed)
    boxes = np.concatenate(
        [
            rng.uniform(-30, 30, (num_boxes, 2)),
            rng.uniform(-1, 1, (num_boxes, 1)),
            rng.uniform(1, 5, (num_boxes, 3)),
            rng.uniform(-np.pi, np.pi, (num_boxes, 1)),
            rng.uniform(-5, 5, (num_boxes, 2)),
        ],
        1,
    )
    points = np.concatenate([rng.uniform(-35, 35, (num_points, 2)), rng.uniform(-3, 3, (num_points, 1))], 1)
    points = np.concatenate([points, rng.uniform(0, 1, (num_points, 2))], 1).astype(np.float32)
    return {
        "points": points,
        "gt_bboxes_3d": LiDARBoxes(torch.tensor(boxes, dtype=torch.float32)),
        "gt_labels_3d": np.arange(num_boxes, dtype=np.int64) % 3,
        "lidar_aug": np.eye(4),
    }


@pytest.mark.parametrize("seed", range(4))
def test_points_stay_in_their_boxes_and_lidar_aug_undoes_everything(seed):
    results = _scene(seed)
    original_points = results["points"].copy()
    original_boxes = results["gt_bboxes_3d"].clone()
    inside_before = original_boxes.points_in_boxes(torch.from_numpy(original_points)).sum(0)
    assert inside_before.sum() > 0
    results = GlobalRotScaleTrans(
        rot_range=(-1, 1), scale_ratio_range=(0.9, 1.1), translation_std=(0.5, 0.5, 0.2), seed=seed
    )(results)
    results = RandomFlip3D(0.5, 0.5, seed=seed)(results)
    inside_after = results["gt_bboxes_3d"].points_in_boxes(torch.from_numpy(results["points"])).sum(0)
    torch.testing.assert_close(inside_after, inside_before)
    undo = np.linalg.inv(results["lidar_aug"])
    recovered = results["points"][:, :3] @ undo[:3, :3].T + undo[:3, 3]
    np.testing.assert_allclose(recovered, original_points[:, :3], atol=2e-4)
    np.testing.assert_array_equal(results["points"][:, 3:], original_points[:, 3:])
    recovered_boxes = results["gt_bboxes_3d"].transform(undo)
    torch.testing.assert_close(recovered_boxes.corners, original_boxes.corners, atol=2e-4, rtol=0)
    torch.testing.assert_close(recovered_boxes.velocity, original_boxes.velocity, atol=1e-4, rtol=0)


def test_flip_probabilities_one_mirror_both_axes():
    results = RandomFlip3D(1.0, 1.0, seed=0)(_scene())
    np.testing.assert_allclose(results["lidar_aug"], np.diag([-1.0, -1.0, 1.0, 1.0]))


def test_range_filters_and_name_filter():
    results = _scene(1, num_boxes=8)
    results["gt_labels_3d"][0] = -1
    point_range = (-20.0, -20.0, -2.0, 20.0, 20.0, 2.0)
    results = PointsRangeFilter(point_range)(results)
    xyz = results["points"][:, :3]
    assert len(xyz) and (xyz >= [-20, -20, -2]).all() and (xyz < [20, 20, 2]).all()
    centres_before = results["gt_bboxes_3d"].tensor[:, :2].numpy()
    keep = (np.abs(centres_before) < 20).all(1)
    results = ObjectRangeFilter(point_range)(results)
    assert len(results["gt_bboxes_3d"]) == keep.sum() == len(results["gt_labels_3d"])
    results = ObjectNameFilter(["a", "b", "c"])(results)
    assert (results["gt_labels_3d"] >= 0).all() and len(results["gt_bboxes_3d"]) == len(results["gt_labels_3d"])


def test_point_shuffle_permutes_rows():
    results = _scene(2)
    before = results["points"].copy()
    after = PointShuffle(seed=0)(results)["points"]
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(np.sort(after, axis=0), np.sort(before, axis=0))
