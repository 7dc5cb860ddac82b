"""Camera views with projected boxes, tiled in the nuScenes layout.

`CameraViews` pairs images with the calibration bundle that maps the LiDAR frame onto exactly
those images. Two uses, and the renderer does not care which:

- the augmented images the model saw (`CameraViews.from_model_input`: the packed `img` and the
  sample's bundle, whose `img_aug` holds the test-time resize and crop);
- the original camera images (build the bundle with `CalibrationBundle.from_cameras(cam2img,
  lidar2cam)`, i.e. `img_aug` = identity).

Tiles are resized for display; the resize is composed into `img_aug`, so boxes are projected
onto the displayed pixels directly rather than drawn small and scaled up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from bevfusion.structures import CalibrationBundle, image_affine_to_matrix

from .box_projection import CameraProjection, box_segments
from .box_set import BoxSet
from .drawing import draw_caption, draw_label, draw_segment
from .palette import class_color

# Front row, then back row, as nuScenes shows its six cameras.
NUSCENES_LAYOUT = (
    ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"),
    ("CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT"),
)


def pixel_resize_matrix(source_size: tuple[int, int], target_size: tuple[int, int]) -> torch.Tensor:
    """4x4 `img_aug` of a `cv2.resize` from `(H, W)` to `(H', W')`: `u' = s (u + 0.5) - 0.5` per axis."""
    scale_v, scale_u = target_size[0] / source_size[0], target_size[1] / source_size[1]
    affine = torch.tensor([[scale_u, 0.0, 0.5 * scale_u - 0.5], [0.0, scale_v, 0.5 * scale_v - 0.5]])
    return image_affine_to_matrix(affine)


@dataclass
class CameraViews:
    """RGB images `HxWx3` uint8, the unbatched bundle that projects onto them, and the camera names, in one order."""

    images: list[np.ndarray]
    calib: CalibrationBundle
    camera_types: list[str]

    def __post_init__(self) -> None:
        self.images, self.camera_types = list(self.images), list(self.camera_types)
        if not len(self.images) == self.calib.num_cameras == len(self.camera_types):
            raise ValueError(
                f"CameraViews: {len(self.images)} images, {self.calib.num_cameras} calibrated cameras and "
                f"{len(self.camera_types)} camera names; they must match"
            )
        for name, image in zip(self.camera_types, self.images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"CameraViews: {name} must be an HxWx3 uint8 RGB image, got {image.dtype} {image.shape}"
                )

    @classmethod
    def from_model_input(cls, img: torch.Tensor, calib: CalibrationBundle, camera_types: Sequence[str]) -> CameraViews:
        """The augmented images the model saw: the packed `img` `(N_cam, 3, H, W)` uint8 RGB and the sample's bundle."""
        images = [np.ascontiguousarray(view.permute(1, 2, 0).cpu().numpy()) for view in img]
        return cls(images, calib, list(camera_types))

    def resized(self, tile_size: tuple[int, int]) -> CameraViews:
        """Every image resized to `tile_size` `(H, W)`, with the resize composed into the bundle's `img_aug`."""
        images, img_aug = [], self.calib.img_aug.clone()
        for index, image in enumerate(self.images):
            source = image.shape[:2]
            shrink = tile_size[0] < source[0]
            interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            images.append(cv2.resize(image, (tile_size[1], tile_size[0]), interpolation=interpolation))
            img_aug[index] = pixel_resize_matrix(source, tile_size).to(img_aug) @ img_aug[index]
        calib = CalibrationBundle(self.calib.cam2img, self.calib.lidar2cam, img_aug, self.calib.lidar_aug)
        return CameraViews(images, calib, self.camera_types)


def mosaic_layout(camera_types: Sequence[str]) -> list[list[int | None]]:
    """Rows of indices into `camera_types`: the nuScenes layout for the six nuScenes cameras, else rows of three."""
    names = list(camera_types)
    if sorted(names) == sorted(name for row in NUSCENES_LAYOUT for name in row):
        return [[names.index(name) for name in row] for row in NUSCENES_LAYOUT]
    indices = list(range(len(names)))
    rows = [indices[start : start + 3] for start in range(0, len(indices), 3)]
    return [row + [None] * (3 - len(row)) for row in rows]


def draw_boxes_on_camera(
    image: np.ndarray, projection: CameraProjection, box_sets: Sequence[BoxSet], class_names: Sequence[str]
) -> None:
    """Draw every box set on one BGR image in place: far boxes first, predictions labelled with class and score."""
    for box_set in box_sets:
        depth = projection.to_camera(box_set.boxes[:, :3])[:, 2] if len(box_set) else np.zeros(0)
        for index in np.argsort(-depth):
            segments = box_segments(box_set.corners[index], projection)
            if not segments:
                continue
            color = class_color(box_set.class_name(index, class_names))
            thickness = 1 if box_set.dashed else 2
            for _, start, end in segments:
                draw_segment(image, start, end, color, thickness, box_set.dashed)
            if box_set.scores is not None:
                top = min((point for _, start, end in segments for point in (start, end)), key=lambda p: p[1])
                draw_label(image, box_set.caption(index, class_names), (top[0], top[1] - 3), color)


def render_camera_mosaic(
    views: CameraViews, box_sets: Sequence[BoxSet], class_names: Sequence[str], tile_size: tuple[int, int]
) -> np.ndarray:
    """BGR mosaic of the views (each `tile_size` `(H, W)`) with the boxes projected into each, camera names on top."""
    display = views.resized(tile_size)
    layout = mosaic_layout(display.camera_types)
    height, width = tile_size
    mosaic = np.zeros((height * len(layout), width * 3, 3), dtype=np.uint8)
    for row, indices in enumerate(layout):
        for column, index in enumerate(indices):
            if index is None:
                continue
            tile = cv2.cvtColor(display.images[index], cv2.COLOR_RGB2BGR)
            projection = CameraProjection.from_bundle(display.calib, index, tile_size)
            draw_boxes_on_camera(tile, projection, box_sets, class_names)
            draw_caption(tile, display.camera_types[index], (6, 18))
            mosaic[row * height : (row + 1) * height, column * width : (column + 1) * width] = tile
    return mosaic
