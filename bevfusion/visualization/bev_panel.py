"""The bird's-eye-view panel: LiDAR points coloured by height, boxes with a heading mark, the ego car, range rings.

The panel shows the (augmented) LiDAR frame seen from above, turned so that the ego car's
forward direction points up (nuScenes' LIDAR_TOP looks along +y, not +x). Predictions are solid
outlines, ground truth dashed, both in the class colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from bevfusion.structures import CalibrationBundle

from .arrays import as_numpy
from .box_set import BoxSet
from .drawing import draw_caption, draw_segment
from .palette import BEV_BACKGROUND, DEFAULT_HEIGHT_RANGE, EGO_COLOR, RING_COLOR, class_color, height_colors

EGO_SIZE = (4.1, 1.8)  # metres, length x width (nuScenes' Renault Zoe), centred on the LiDAR
RING_STEP = 10.0  # metres between range rings


def ego_forward(
    calib: CalibrationBundle | None = None,
    camera_types: Sequence[str] = (),
    lidar2ego: np.ndarray | None = None,
) -> np.ndarray:
    """The ego car's forward direction `(2,)` in the (augmented) LiDAR frame.

    From `lidar2ego` when known (the ego x axis), else from the optical axis of `CAM_FRONT`
    (or the first camera) of the bundle, else +x. The bundle's `lidar_aug` turns it into the
    augmented frame.
    """
    lidar_aug = np.eye(4) if calib is None else as_numpy(calib.lidar_aug)
    if lidar2ego is not None:
        direction = as_numpy(lidar2ego)[0, :3]
    elif calib is not None and calib.num_cameras:
        camera = list(camera_types).index("CAM_FRONT") if "CAM_FRONT" in camera_types else 0
        direction = as_numpy(calib.lidar2cam[camera])[2, :3]
    else:
        direction = np.array([1.0, 0.0, 0.0])
    planar = (lidar_aug[:3, :3] @ direction)[:2]
    norm = float(np.hypot(*planar))
    return planar / norm if norm > 1e-6 else np.array([1.0, 0.0])


@dataclass(frozen=True)
class BEVView:
    """A square panel of `size` pixels showing `extent` metres on each side of the LiDAR, `forward` pointing up."""

    size: int = 540
    extent: float = 54.0
    forward: tuple[float, float] = (1.0, 0.0)

    @property
    def pixels_per_metre(self) -> float:
        return self.size / (2.0 * self.extent)

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """`(..., 2)` LiDAR-frame x, y -> `(..., 2)` float pixel column, row."""
        forward = np.asarray(self.forward, dtype=np.float64)
        right = np.array([forward[1], -forward[0]])  # forward turned clockwise, seen from above
        centre = (self.size - 1) / 2.0
        scale = self.pixels_per_metre
        return np.stack([centre + scale * (xy @ right), centre - scale * (xy @ forward)], -1)


def _draw_points(panel: np.ndarray, view: BEVView, points: np.ndarray, height_range: tuple[float, float]) -> None:
    pixels = np.rint(view.to_pixels(points[:, :2])).astype(np.int64)
    inside = ((pixels >= 0) & (pixels < view.size)).all(1)
    pixels, heights = pixels[inside], points[inside, 2]
    order = np.argsort(heights, kind="stable")  # higher points drawn last, on top
    panel[pixels[order, 1], pixels[order, 0]] = height_colors(heights[order], height_range)


def _draw_rings(panel: np.ndarray, view: BEVView) -> None:
    """Circles every `RING_STEP` metres around the LiDAR, labelled where they cross the panel's right-hand axis."""
    centre = (view.size - 1) // 2
    for radius in np.arange(RING_STEP, view.extent * np.sqrt(2), RING_STEP):
        pixels = int(round(radius * view.pixels_per_metre))
        cv2.circle(panel, (centre, centre), pixels, RING_COLOR, 1, cv2.LINE_AA)
        if centre + pixels + 40 < view.size:
            origin = (centre + pixels + 3, centre - 4)
            cv2.putText(panel, f"{radius:.0f} m", origin, cv2.FONT_HERSHEY_SIMPLEX, 0.35, RING_COLOR, 1, cv2.LINE_AA)


def _draw_ego(panel: np.ndarray, view: BEVView) -> None:
    length, width = EGO_SIZE
    forward = np.asarray(view.forward, dtype=np.float64)
    left = np.array([-forward[1], forward[0]])
    corners = [forward * sx * length / 2 + left * sy * width / 2 for sx, sy in ((1, 1), (1, -1), (-1, -1), (-1, 1))]
    outline = np.rint(view.to_pixels(np.stack(corners))).astype(np.int32)
    cv2.fillPoly(panel, [outline], EGO_COLOR, cv2.LINE_AA)
    nose = np.stack(
        [forward * length / 2, forward * length / 6 + left * width / 2, forward * length / 6 - left * width / 2]
    )
    cv2.fillPoly(panel, [np.rint(view.to_pixels(nose)).astype(np.int32)], BEV_BACKGROUND, cv2.LINE_AA)


def _draw_boxes(panel: np.ndarray, view: BEVView, box_set: BoxSet, class_names: Sequence[str]) -> None:
    thickness = 1 if box_set.dashed else 2
    for index in range(len(box_set)):
        color = class_color(box_set.class_name(index, class_names))
        footprint = view.to_pixels(box_set.corners[index, :4, :2])
        for corner in range(4):
            draw_segment(panel, footprint[corner], footprint[(corner + 1) % 4], color, thickness, box_set.dashed)
        centre = view.to_pixels(box_set.boxes[index, :2])
        front = (footprint[0] + footprint[1]) / 2  # corners 0 and 1 are the front face (+l/2)
        draw_segment(panel, centre, front, color, thickness, box_set.dashed)


def render_bev(
    view: BEVView,
    points: np.ndarray | torch.Tensor | None,
    box_sets: Sequence[BoxSet],
    class_names: Sequence[str],
    height_range: tuple[float, float] = DEFAULT_HEIGHT_RANGE,
) -> np.ndarray:
    """The BGR panel `(size, size, 3)`: rings, points (`(P, >=3)`, LiDAR frame) coloured by z over `height_range`,
    box sets in the given order, the ego car."""
    panel = np.full((view.size, view.size, 3), BEV_BACKGROUND, dtype=np.uint8)
    _draw_rings(panel, view)
    if points is not None and len(points):
        _draw_points(panel, view, as_numpy(points)[:, :3], height_range)
    for box_set in box_sets:
        _draw_boxes(panel, view, box_set, class_names)
    _draw_ego(panel, view)
    draw_caption(panel, "BEV", (6, 18))
    return panel
