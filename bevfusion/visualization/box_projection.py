"""Box edges into one camera image: near-plane clipping in the camera frame, projection, 2D border clipping.

A box edge that runs behind the camera cannot be projected as a whole: its endpoint behind
the camera plane has a meaningless (mirrored) pixel. Each 3D edge is therefore cut at the
plane `z = NEAR_PLANE` of the camera frame first, the remaining part is projected, and the
2D segment is clipped to the image rectangle with `cv2.clipLine`. Edges entirely behind
the near plane or outside the image are not drawn.

The matrices come from the `CalibrationBundle` alone, as two factors of its `lidar2img`:
`lidar2camera = lidar2cam @ inv(lidar_aug)` (augmented LiDAR frame -> camera frame) and
`camera2image = img_aug @ cam2img` (camera frame -> pixels of the image as drawn). Integer
pixel `(u, v)` is the centre of column u, row v, as in OpenCV and the data pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bevfusion.structures import CalibrationBundle

from .arrays import as_numpy

NEAR_PLANE = 0.1  # metres in front of the camera
# The 12 edges of a box in the corner order of `LiDARBoxes.corners`: bottom face, top face, verticals.
BOX_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]])
# cv2.clipLine takes 32-bit coordinates. Past the near plane a pixel only gets this far for objects
# kilometres away, so clamping there never changes a drawn line.
_PIXEL_LIMIT = 2**30


@dataclass(frozen=True)
class CameraProjection:
    """One camera: augmented LiDAR frame -> camera frame -> pixels of an image of `(height, width)`."""

    lidar2camera: np.ndarray
    camera2image: np.ndarray
    height: int
    width: int

    @classmethod
    def from_bundle(cls, calib: CalibrationBundle, camera: int, image_size: tuple[int, int]) -> CameraProjection:
        """Camera `camera` of an unbatched bundle (`cam2img` `(N_cam, 4, 4)`), drawn on an image of `image_size`."""
        if calib.cam2img.dim() != 3:
            raise ValueError(f"CameraProjection: expected one sample's bundle (N_cam, 4, 4), got {calib.cam2img.shape}")
        lidar2camera = as_numpy(calib.lidar2cam[camera]) @ np.linalg.inv(as_numpy(calib.lidar_aug))
        camera2image = as_numpy(calib.img_aug[camera]) @ as_numpy(calib.cam2img[camera])
        return cls(lidar2camera, camera2image, int(image_size[0]), int(image_size[1]))

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """`(P, 3)` LiDAR-frame points -> `(P, 3)` camera-frame points (z is the depth)."""
        return points @ self.lidar2camera[:3, :3].T + self.lidar2camera[:3, 3]

    def to_image(self, camera_points: np.ndarray) -> np.ndarray:
        """`(P, 3)` camera-frame points in front of the camera -> `(P, 2)` float pixels."""
        projected = camera_points @ self.camera2image[:3, :3].T + self.camera2image[:3, 3]
        return projected[:, :2] / projected[:, 2:3]


def clip_segments(
    starts: np.ndarray, ends: np.ndarray, projection: CameraProjection
) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
    """The visible parts of 3D segments `(E, 3)` (LiDAR frame) as `(segment index, pixel, pixel)`.

    A segment crossing the near plane is cut there; a segment behind it, or projecting
    outside the image, is left out. Returned pixels lie inside the image, on its border
    where a segment leaves it.
    """
    start_cam, end_cam = projection.to_camera(starts), projection.to_camera(ends)
    start_z, end_z = start_cam[:, 2], end_cam[:, 2]
    visible = (start_z >= NEAR_PLANE) | (end_z >= NEAR_PLANE)
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = np.clip((NEAR_PLANE - start_z) / (end_z - start_z), 0.0, 1.0)[:, None]
    near_point = start_cam + cut * (end_cam - start_cam)
    start_cam = np.where((start_z < NEAR_PLANE)[:, None], near_point, start_cam)
    end_cam = np.where((end_z < NEAR_PLANE)[:, None], near_point, end_cam)
    indices = np.flatnonzero(visible)
    if not len(indices):
        return []
    pixels = [projection.to_image(points[indices]) for points in (start_cam, end_cam)]
    pixels = [np.clip(np.rint(p), -_PIXEL_LIMIT, _PIXEL_LIMIT).astype(np.int64) for p in pixels]
    rectangle = (0, 0, projection.width, projection.height)
    segments = []
    for index, first, second in zip(indices, *pixels):
        inside, first, second = cv2.clipLine(rectangle, tuple(map(int, first)), tuple(map(int, second)))
        if inside:
            segments.append((int(index), first, second))
    return segments


def box_segments(
    corners: np.ndarray, projection: CameraProjection
) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
    """The visible parts of one box's 12 edges, `corners` `(8, 3)` in the LiDAR frame; indices into `BOX_EDGES`."""
    return clip_segments(corners[BOX_EDGES[:, 0]], corners[BOX_EDGES[:, 1]], projection)
