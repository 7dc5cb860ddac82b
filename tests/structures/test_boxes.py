"""LiDARBoxes against nuscenes-devkit: corners, frames, points-in-boxes, transforms."""

import math

import numpy as np
import pytest
import torch
from nuscenes.utils.data_classes import Box
from nuscenes.utils.geometry_utils import points_in_box
from pyquaternion import Quaternion

from bevfusion.structures import LiDARBoxes, flip_matrix, rotation_z_matrix, scale_matrix, wrap_angle

# devkit Box.corners() order -> ours. devkit: front four (x+) then back four, each
# (y+,z+), (y-,z+), (y-,z-), (y+,z-). Ours: bottom face CCW from front-right, then top.
DEVKIT_TO_OURS = [2, 3, 7, 6, 1, 0, 4, 5]


def random_boxes(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    uniform = lambda lo, hi, *shape: lo + (hi - lo) * torch.rand(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    return torch.cat(
        [
            uniform(-50, 50, n, 2),
            uniform(-3, 3, n, 1),
            uniform(0.3, 12, n, 3),
            uniform(-math.pi, math.pi, n, 1),
            uniform(-15, 15, n, 2),
        ],
        1,
    )


def random_pose(seed: int, tilt: float = 0.02) -> np.ndarray:
    """A 4x4 rigid pose with a mostly-yaw rotation and a small tilt, like nuScenes extrinsics."""
    rng = np.random.default_rng(seed)
    rotation = (
        Quaternion(axis=[0, 0, 1], radians=rng.uniform(-math.pi, math.pi))
        * Quaternion(axis=rng.normal(size=3), radians=rng.uniform(-tilt, tilt))
    ).rotation_matrix
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = rng.uniform(-500, 500, size=3)
    return pose


def test_corners_match_devkit_box_corners():
    data = random_boxes(200)
    boxes = LiDARBoxes(data)
    ours = boxes.to(torch.float64).corners.numpy()
    for row, corners in zip(data.numpy(), ours):
        x, y, z, length, width, height, yaw = row[:7]
        devkit = Box([x, y, z], [width, length, height], Quaternion(axis=[0, 0, 1], radians=yaw)).corners().T
        np.testing.assert_allclose(corners, devkit[DEVKIT_TO_OURS], atol=1e-5)


def test_bev_corners_are_counter_clockwise_with_box_area():
    boxes = LiDARBoxes(random_boxes(100))
    polygon = boxes.bev_corners.double()
    x, y = polygon[..., 0], polygon[..., 1]
    signed_area = 0.5 * (x * y.roll(-1, 1) - x.roll(-1, 1) * y).sum(1)
    torch.testing.assert_close(signed_area, (boxes.dims[:, 0] * boxes.dims[:, 1]).double(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_lidar_global_round_trip_is_identity(seed):
    data = random_boxes(100, seed)
    lidar2ego, ego2global = random_pose(seed), random_pose(seed + 100)
    boxes = LiDARBoxes(data)
    devkit_boxes = boxes.to_devkit(lidar2ego, ego2global)
    back = LiDARBoxes.from_devkit(devkit_boxes, lidar2ego, ego2global)
    expected = boxes.tensor.float()
    expected[:, 6] = wrap_angle(expected[:, 6])
    torch.testing.assert_close(back.tensor[:, :6], expected[:, :6], atol=1e-5, rtol=0)
    torch.testing.assert_close(wrap_angle(back.yaw - expected[:, 6]), torch.zeros(100), atol=1e-5, rtol=0)
    torch.testing.assert_close(back.velocity, expected[:, 7:9], atol=1e-5, rtol=0)


def test_to_devkit_places_box_in_global_frame():
    lidar2ego, ego2global = random_pose(1), random_pose(2)
    boxes = LiDARBoxes(random_boxes(20, 5))
    devkit_boxes = boxes.to_devkit(lidar2ego, ego2global)
    centers = np.concatenate([boxes.center.double().numpy(), np.ones((20, 1))], 1)
    expected = (ego2global @ lidar2ego @ centers.T).T[:, :3]
    np.testing.assert_allclose(np.stack([b.center for b in devkit_boxes]), expected, atol=1e-4)
    # Velocity is rotated with the frames but not translated.
    velocity = np.concatenate([boxes.velocity.double().numpy(), np.zeros((20, 1))], 1)
    expected_velocity = (ego2global[:3, :3] @ lidar2ego[:3, :3] @ velocity.T).T
    np.testing.assert_allclose(np.stack([b.velocity for b in devkit_boxes]), expected_velocity, atol=1e-4)


@pytest.mark.parametrize("yaw", [math.pi, -math.pi, math.pi - 1e-7, -math.pi + 1e-7])
def test_yaw_at_plus_minus_pi_survives_round_trip(yaw):
    lidar2ego, ego2global = random_pose(3), random_pose(4)
    boxes = LiDARBoxes([[1.0, 2.0, 0.5, 4.0, 2.0, 1.5, yaw, 1.0, -1.0]])
    back = LiDARBoxes.from_devkit(boxes.to_devkit(lidar2ego, ego2global), lidar2ego, ego2global)
    assert -math.pi <= back.yaw.item() < math.pi
    assert abs(float(wrap_angle(back.yaw - yaw))) < 1e-5
    torch.testing.assert_close(back.corners, boxes.corners, atol=1e-4, rtol=0)


def test_nan_velocity_from_devkit_becomes_unknown_value():
    lidar2ego, ego2global = random_pose(5), random_pose(6)
    box = LiDARBoxes([[1.0, 2.0, 0.5, 4.0, 2.0, 1.5, 0.3, 0.0, 0.0]]).to_devkit(lidar2ego, ego2global)[0]
    box.velocity = np.array([np.nan, np.nan, np.nan])
    back = LiDARBoxes.from_devkit([box], lidar2ego, ego2global)
    assert torch.isfinite(back.tensor).all()
    assert back.velocity.abs().max() == 0
    assert LiDARBoxes.from_devkit([box], lidar2ego, ego2global, unknown_velocity=float("nan")).velocity.isnan().all()


def test_info_round_trip_and_nan_velocity():
    boxes = LiDARBoxes(random_boxes(10).float())
    infos = boxes.to_info()
    assert len(infos[0]["bbox_3d"]) == 7 and len(infos[0]["velocity"]) == 2
    torch.testing.assert_close(LiDARBoxes.from_info(infos).tensor, boxes.tensor)
    infos[0]["velocity"] = [float("nan"), float("nan")]
    assert LiDARBoxes.from_info(infos).velocity[0].abs().sum() == 0
    with pytest.raises(ValueError, match=r"instances\[1\].bbox_3d"):
        LiDARBoxes.from_info([{"bbox_3d": [0] * 7}, {"bbox_3d": [0] * 6}])


def test_points_in_boxes_agrees_with_devkit():
    generator = torch.Generator().manual_seed(7)
    data = random_boxes(40, 7)
    data[:, :2] = data[:, :2] / 5  # crowd the boxes so many points fall inside
    boxes = LiDARBoxes(data.float())
    points = (torch.rand(5000, 3, generator=generator) - 0.5) * torch.tensor([24.0, 24.0, 8.0])
    ours = boxes.points_in_boxes(points).numpy()
    for index, row in enumerate(boxes.tensor.double().numpy()):
        x, y, z, length, width, height, yaw = row[:7]
        devkit_box = Box([x, y, z], [width, length, height], Quaternion(axis=[0, 0, 1], radians=yaw))
        np.testing.assert_array_equal(ours[:, index], points_in_box(devkit_box, points.double().numpy().T))
    assert ours.sum() > 500


def test_points_in_boxes_native_matches_reference():
    from bevfusion.ops.box3d import points_in_boxes, points_in_boxes_reference

    boxes = random_boxes(30, 9).float()[:, :7]
    boxes[:, :2] /= 5
    points = (torch.rand(3000, 3) - 0.5) * 24
    torch.testing.assert_close(points_in_boxes(points, boxes), points_in_boxes_reference(points, boxes))
    assert points_in_boxes(points[:0], boxes).shape == (0, 30)
    assert points_in_boxes(points, boxes[:0]).shape == (3000, 0)


def test_points_inside_move_with_the_box_under_transforms():
    boxes = LiDARBoxes(random_boxes(20, 11).float())
    local = (torch.rand(20, 50, 3) - 0.5) * 0.9 * boxes.dims[:, None, :]
    cos, sin = torch.cos(boxes.yaw)[:, None], torch.sin(boxes.yaw)[:, None]
    points = (
        torch.stack(
            [local[..., 0] * cos - local[..., 1] * sin, local[..., 0] * sin + local[..., 1] * cos, local[..., 2]], -1
        )
        + boxes.center[:, None, :]
    )
    points = points.reshape(-1, 3)
    owner = torch.arange(20).repeat_interleave(50)
    for matrix in (rotation_z_matrix(0.7), flip_matrix("horizontal"), flip_matrix("vertical"), scale_matrix(1.1)):
        moved = boxes.transform(matrix)
        moved_points = points.double() @ matrix[:3, :3].T + matrix[:3, 3]
        inside = moved.points_in_boxes(moved_points.float())
        assert inside[torch.arange(len(points)), owner].all()


def test_transform_semantics():
    box = LiDARBoxes([[10.0, 0.0, 1.0, 4.0, 2.0, 1.5, 0.0, 5.0, 0.0]])
    rotated = box.rotate(math.pi / 2).tensor[0]
    torch.testing.assert_close(
        rotated, torch.tensor([0.0, 10.0, 1.0, 4.0, 2.0, 1.5, math.pi / 2, 0.0, 5.0]), atol=1e-5, rtol=0
    )
    flipped = LiDARBoxes([[1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.5, 1.0, 1.0]]).flip("horizontal").tensor[0]
    torch.testing.assert_close(
        flipped, torch.tensor([1.0, -2.0, 0.0, 4.0, 2.0, 1.5, -0.5, 1.0, -1.0]), atol=1e-6, rtol=0
    )
    scaled = box.scale(2.0).tensor[0]
    torch.testing.assert_close(scaled, torch.tensor([20.0, 0.0, 2.0, 8.0, 4.0, 3.0, 0.0, 10.0, 0.0]))
    torch.testing.assert_close(box.translate([1, 2, 3]).center, torch.tensor([[11.0, 2.0, 4.0]]))
    with pytest.raises(ValueError, match="vertical"):
        tilted = torch.eye(4, dtype=torch.float64)
        tilted[0, 2] = 0.5
        box.transform(tilted)


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, 9\)"):
        LiDARBoxes(torch.zeros(3, 7))
    assert len(LiDARBoxes([])) == 0
