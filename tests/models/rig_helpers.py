"""A nuScenes-like six-camera rig (the synthetic world's) as calibration inputs for model tests."""

from __future__ import annotations

import math

import numpy as np
import torch

from bevfusion.datasets.synthetic.rig import CAMERAS, IMAGE_HEIGHT, IMAGE_WIDTH, LIDAR
from bevfusion.structures import CalibrationBundle, image_affine_to_matrix


def rig_matrices() -> tuple[np.ndarray, np.ndarray]:
    """`cam2img` `(6, 4, 4)` and `lidar2cam` `(6, 4, 4)` of the rig at its full 1600x900 resolution."""
    lidar2ego = LIDAR.sensor2ego()
    cam2img = np.tile(np.eye(4), (len(CAMERAS), 1, 1))
    lidar2cam = np.zeros((len(CAMERAS), 4, 4))
    for index, camera in enumerate(CAMERAS):
        cam2img[index, :3, :3] = camera.intrinsic
        lidar2cam[index] = np.linalg.inv(camera.sensor2ego()) @ lidar2ego
    return cam2img, lidar2cam


def resize_affine(image_size: tuple[int, int], rotate_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """A 3x3 pixel affine taking the 1600x900 image to `image_size` (resize + crop, optional flip and rotation)."""
    height, width = image_size
    scale = width / IMAGE_WIDTH
    affine = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5], [0, 0, 1.0]])
    affine[1, 2] -= IMAGE_HEIGHT * scale - height  # crop the top
    if flip:
        affine = np.array([[-1.0, 0, width - 1], [0, 1, 0], [0, 0, 1]]) @ affine
    if rotate_deg:
        cos, sin = math.cos(math.radians(rotate_deg)), math.sin(math.radians(rotate_deg))
        centre = np.array([(width - 1) / 2, (height - 1) / 2])
        rotation = np.eye(3)
        rotation[:2, :2] = [[cos, sin], [-sin, cos]]
        rotation[:2, 2] = centre - rotation[:2, :2] @ centre
        affine = rotation @ affine
    return affine


def rig_calibration(
    image_size: tuple[int, int],
    batch: int = 1,
    affines: np.ndarray | None = None,
    lidar_aug: np.ndarray | None = None,
) -> CalibrationBundle:
    """A batched bundle of the rig; `affines` `(6, 3, 3)` per camera, `lidar_aug` 4x4 (identity by default)."""
    cam2img, lidar2cam = rig_matrices()
    if affines is None:
        affines = np.stack([resize_affine(image_size)] * len(CAMERAS))
    img_aug = image_affine_to_matrix(torch.from_numpy(affines[:, :2]))
    lidar_aug = torch.eye(4, dtype=torch.float64) if lidar_aug is None else torch.as_tensor(lidar_aug)
    bundle = CalibrationBundle(torch.from_numpy(cam2img), torch.from_numpy(lidar2cam), img_aug, lidar_aug)
    return CalibrationBundle.stack([bundle] * batch)
