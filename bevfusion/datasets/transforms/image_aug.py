"""Image augmentation: resize, crop, flip and rotate each camera, recorded in `img_aug`.

Pixel coordinates follow OpenCV and the camera intrinsics: integer `(u, v)` is the centre
of pixel column u, row v. The recorded matrix is exactly the map the image content went
through, so projecting with `CalibrationBundle.lidar2img` lands on the warped pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from bevfusion.registry import TRANSFORMS
from bevfusion.structures import image_affine_to_matrix

from .randomness import transform_rng


def _affine(linear: Sequence[Sequence[float]], shift: Sequence[float]) -> np.ndarray:
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = shift
    return matrix


def _pixel_resize(scale_u: float, scale_v: float) -> np.ndarray:
    """The pixel-centre map of a resize by `(scale_u, scale_v)`: u' = s (u + 0.5) - 0.5, as cv2.resize does."""
    return _affine([[scale_u, 0], [0, scale_v]], [0.5 * scale_u - 0.5, 0.5 * scale_v - 0.5])


@TRANSFORMS.register_module()
class ImageAug3D:
    """BEVFusion's per-camera image augmentation to a fixed `final_dim` `(H, W)`.

    Training draws, per camera, a resize factor from `resize_lim`, a crop (vertical offset
    from `bot_pct_lim`, the fraction of the resized image cut from the bottom; horizontal
    offset uniform), a horizontal flip with probability 0.5 when `rand_flip`, and a
    rotation in degrees from `rot_lim` about the output centre. Test mode uses the mean
    resize, a horizontally centred crop, no flip and no rotation.
    """

    def __init__(
        self,
        final_dim: Sequence[int],
        resize_lim: Sequence[float],
        bot_pct_lim: Sequence[float] = (0.0, 0.0),
        rot_lim: Sequence[float] = (0.0, 0.0),
        rand_flip: bool = False,
        is_train: bool = True,
        seed: int | None = None,
    ) -> None:
        self.final_dim = tuple(final_dim)
        self.resize_lim = tuple(resize_lim)
        self.bot_pct_lim = tuple(bot_pct_lim)
        self.rot_lim = tuple(rot_lim)
        self.rand_flip = rand_flip
        self.is_train = is_train
        self.rng = transform_rng(seed)

    def _sample(self, height: int, width: int) -> tuple[float, int, int, bool, float]:
        final_h, final_w = self.final_dim
        if self.is_train:
            resize = self.rng.uniform(*self.resize_lim)
            bottom = self.rng.uniform(*self.bot_pct_lim)
        else:
            resize = float(np.mean(self.resize_lim))
            bottom = float(np.mean(self.bot_pct_lim))
        new_h, new_w = int(height * resize), int(width * resize)
        crop_top = int((1 - bottom) * new_h) - final_h
        if self.is_train:
            crop_left = int(self.rng.uniform(0, max(0, new_w - final_w)))
            flip = self.rand_flip and self.rng.uniform() < 0.5
            rotate = self.rng.uniform(*self.rot_lim)
        else:
            crop_left = max(0, new_w - final_w) // 2
            flip, rotate = False, 0.0
        return resize, crop_top, crop_left, flip, rotate

    def _augment(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One camera: the warped image and the 3x3 pixel affine that produced it."""
        height, width = image.shape[:2]
        final_h, final_w = self.final_dim
        resize, crop_top, crop_left, flip, rotate = self._sample(height, width)
        new_w, new_h = int(width * resize), int(height * resize)
        post = _affine([[1, 0], [0, 1]], [-crop_left, -crop_top])
        if flip:
            post = _affine([[-1, 0], [0, 1]], [final_w - 1, 0]) @ post
        if rotate:
            # Counter-clockwise as displayed (v points down) about the output centre.
            cos, sin = math.cos(math.radians(rotate)), math.sin(math.radians(rotate))
            centre = np.array([(final_w - 1) / 2, (final_h - 1) / 2])
            linear = np.array([[cos, sin], [-sin, cos]])
            post = _affine(linear, centre - linear @ centre) @ post
        total = post @ _pixel_resize(new_w / width, new_h / height)
        # Shrink by a whole factor first with area averaging (cheap, no aliasing), so the one
        # warp that follows, at output size, only interpolates at a ratio in (0.5, 1].
        factor = max(1, int(1 / resize))
        source, done = image, np.eye(3)
        if factor > 1:
            source = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
            done = _pixel_resize(source.shape[1] / width, source.shape[0] / height)
        remaining = total @ np.linalg.inv(done)
        warped = cv2.warpAffine(
            source, remaining[:2], (final_w, final_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        return warped, total

    def __call__(self, results: dict) -> dict:
        images = []
        for index, image in enumerate(results["img"]):
            warped, affine = self._augment(image)
            images.append(warped)
            results["img_aug"][index] = image_affine_to_matrix(affine[:2]).numpy() @ results["img_aug"][index]
        results["img"] = images
        results["img_shape"] = tuple(self.final_dim)
        return results
