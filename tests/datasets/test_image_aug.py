"""ImageAug3D: the recorded img_aug is exactly the map the image content went through."""

import numpy as np
import pytest
import torch

from bevfusion.datasets.transforms import ImageAug3D
from bevfusion.structures import CalibrationBundle


def _blob_image(height, width, centre, sigma=3.0):
    v, u = np.mgrid[0:height, 0:width]
    blob = np.exp(-((u - centre[0]) ** 2 + (v - centre[1]) ** 2) / (2 * sigma**2))
    return np.repeat((blob * 250).astype(np.uint8)[..., None], 3, axis=2)


def _centroid(image):
    weight = image[..., 0].astype(np.float64)
    v, u = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return np.array([(u * weight).sum(), (v * weight).sum()]) / weight.sum()


def _apply(img_aug, pixel):
    return img_aug[:2, :2] @ pixel + img_aug[:2, 2]


@pytest.mark.parametrize("seed", range(8))
def test_blob_lands_where_img_aug_maps_it(seed):
    rng = np.random.default_rng(seed)
    height, width = 180, 320
    centre = np.array([rng.uniform(130, 190), rng.uniform(70, 110)])
    aug = ImageAug3D(
        final_dim=(96, 160),
        resize_lim=(0.3, 0.7),
        bot_pct_lim=(0.0, 0.2),
        rot_lim=(-10, 10),
        rand_flip=True,
        seed=seed,
    )
    results = {"img": [_blob_image(height, width, centre)], "img_aug": np.eye(4)[None].copy()}
    results = aug(results)
    warped = results["img"][0]
    assert warped.shape == (96, 160, 3)
    expected = _apply(results["img_aug"][0], centre)
    np.testing.assert_allclose(_centroid(warped), expected, atol=0.05)


def test_flip_and_rotation_are_both_exercised():
    aug = ImageAug3D(final_dim=(32, 48), resize_lim=(0.5, 0.5), rot_lim=(-20, 20), rand_flip=True, seed=0)
    flips = set()
    for _ in range(20):
        results = aug({"img": [np.zeros((64, 96, 3), np.uint8)], "img_aug": np.eye(4)[None].copy()})
        matrix = results["img_aug"][0]
        flips.add(bool(np.linalg.det(matrix[:2, :2]) < 0))
        assert abs(matrix[0, 1]) > 0  # rotation mixes u and v
    assert flips == {True, False}


def test_test_mode_is_deterministic_centre_crop():
    aug = ImageAug3D(final_dim=(40, 60), resize_lim=(0.4, 0.6), rot_lim=(-5, 5), rand_flip=True, is_train=False)
    image = np.zeros((100, 200, 3), np.uint8)
    first = aug({"img": [image], "img_aug": np.eye(4)[None].copy()})["img_aug"][0]
    second = aug({"img": [image], "img_aug": np.eye(4)[None].copy()})["img_aug"][0]
    np.testing.assert_array_equal(first, second)
    # resize 0.5 -> 100x50, crop 60x40 centred horizontally (left 20) and at the bottom (top 10)
    expected_linear = np.diag([0.5, 0.5])
    np.testing.assert_allclose(first[:2, :2], expected_linear)
    np.testing.assert_allclose(first[:2, 2], [0.5 * 0.5 - 0.5 - 20, 0.5 * 0.5 - 0.5 - 10])


def test_projection_through_bundle_matches_warped_pixels():
    """The same map, seen through CalibrationBundle.lidar2img on a point in front of the camera."""
    aug = ImageAug3D(final_dim=(96, 160), resize_lim=(0.6, 0.6), rot_lim=(-8, 8), rand_flip=True, seed=3)
    results = aug({"img": [np.zeros((180, 320, 3), np.uint8)], "img_aug": np.eye(4)[None].copy()})
    cam2img = np.array([[200.0, 0, 160, 0], [0, 200.0, 90, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    bundle = CalibrationBundle.from_cameras(
        torch.tensor(cam2img[None]), torch.eye(4, dtype=torch.float64)[None], torch.tensor(results["img_aug"])
    )
    point = torch.tensor([[1.0, -0.5, 10.0]], dtype=torch.float64)
    pixels, _ = bundle.project(point)
    raw = cam2img[:3, :3] @ point[0].numpy()
    raw = raw[:2] / raw[2]
    np.testing.assert_allclose(pixels[0, 0].numpy(), _apply(results["img_aug"][0], raw), atol=1e-9)
