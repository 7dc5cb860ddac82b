"""CalibrationBundle: lidar2img composition and its inverse, with augmentations."""

import math

import pytest
import torch

from bevfusion.structures import CalibrationBundle, image_affine_to_matrix, rotation_z_matrix


def make_bundle(num_cameras: int = 6) -> CalibrationBundle:
    intrinsics = torch.tensor([[1266.0, 0.0, 816.0], [0.0, 1266.0, 491.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    cam2img = intrinsics.expand(num_cameras, 3, 3)
    lidar2cam = torch.zeros(num_cameras, 4, 4, dtype=torch.float64)
    for index in range(num_cameras):
        yaw = 2 * math.pi * index / num_cameras
        # camera looks along lidar direction (cos yaw, sin yaw); camera z forward, x right, y down
        forward = torch.tensor([math.cos(yaw), math.sin(yaw), 0.0], dtype=torch.float64)
        right = torch.tensor([math.sin(yaw), -math.cos(yaw), 0.0], dtype=torch.float64)
        down = torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64)
        rotation = torch.stack([right, down, forward])
        lidar2cam[index, :3, :3] = rotation
        lidar2cam[index, :3, 3] = -rotation @ torch.tensor([0.5, 0.0, 1.5], dtype=torch.float64)
        lidar2cam[index, 3, 3] = 1
    return CalibrationBundle.from_cameras(cam2img, lidar2cam)


def test_identity_augs_project_like_plain_pinhole():
    bundle = make_bundle()
    point = torch.tensor([[20.0, 0.0, 1.5]], dtype=torch.float64)
    pixels, depth = bundle.project(point)
    assert pixels.shape == (6, 1, 2) and depth.shape == (6, 1)
    # camera 0 looks along +x: a point straight ahead lands on the principal point
    torch.testing.assert_close(pixels[0, 0], torch.tensor([816.0, 491.0], dtype=torch.float64))
    torch.testing.assert_close(depth[0, 0], torch.tensor(19.5, dtype=torch.float64))


def test_img2lidar_inverts_lidar2img():
    bundle = make_bundle()
    product = bundle.img2lidar @ bundle.lidar2img
    torch.testing.assert_close(product, torch.eye(4, dtype=torch.float64).expand(6, 4, 4), atol=1e-9, rtol=0)


def test_augmentations_compose_in_the_documented_order():
    bundle = make_bundle()
    lidar_aug = rotation_z_matrix(0.4)
    lidar_aug[:3, :3] *= 1.05
    lidar_aug[:3, 3] = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    # resize by half, then crop 10 px from the left
    img_aug = image_affine_to_matrix(torch.tensor([[0.5, 0.0, -10.0], [0.0, 0.5, 0.0]]).expand(6, 2, 3))
    augmented = CalibrationBundle(bundle.cam2img, bundle.lidar2cam, img_aug, lidar_aug)
    points = torch.randn(50, 3, dtype=torch.float64) * 10
    moved = points @ lidar_aug[:3, :3].T + lidar_aug[:3, 3]
    pixels, depth = bundle.project(points)
    aug_pixels, aug_depth = augmented.project(moved)
    torch.testing.assert_close(aug_depth, depth)
    in_front = depth > 0.1
    assert in_front.any()
    expected = pixels * 0.5 + torch.tensor([-10.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(aug_pixels[in_front], expected[in_front])


def test_stack_and_shape_checks():
    batch = CalibrationBundle.stack([make_bundle(), make_bundle()])
    assert batch.lidar2img.shape == (2, 6, 4, 4)
    assert batch.lidar_aug.shape == (2, 4, 4)
    with pytest.raises(ValueError, match="lidar2cam"):
        CalibrationBundle(
            torch.eye(4).repeat(6, 1, 1), torch.eye(4).repeat(5, 1, 1), torch.eye(4).repeat(6, 1, 1), torch.eye(4)
        )
    with pytest.raises(ValueError, match="lidar_aug"):
        CalibrationBundle.from_cameras(
            torch.eye(3).repeat(6, 1, 1), torch.eye(4).repeat(6, 1, 1), lidar_aug=torch.eye(4).repeat(2, 1, 1)
        )
