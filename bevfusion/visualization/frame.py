"""One picture per sample: the camera mosaic and the BEV panel side by side, and its atomic PNG write.

`render_sample` draws whatever it is given (images with their bundle, points, predictions,
ground truth); `render_data_sample` takes a packed model input and its `Det3DDataSample`
after `test_step`, as `inference_detector` returns them and as a test loop sees them, and
draws on the augmented images the model saw.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from mmengine.structures import InstanceData

from bevfusion.fileio import atomic_write
from bevfusion.structures import Det3DDataSample

from .bev_panel import BEVView, ego_forward, render_bev
from .box_set import BoxSet
from .camera_views import CameraViews, render_camera_mosaic
from .drawing import legend_strip
from .palette import DEFAULT_HEIGHT_RANGE


@dataclass(frozen=True)
class FrameStyle:
    """The panels' `height` in pixels (two camera rows; the BEV panel is a square of that side; the legend strip
    comes below), the BEV's half-width in metres, the lowest prediction score drawn, and the point heights
    (metres, LiDAR frame) the colour map spans."""

    height: int = 540
    bev_extent: float = 54.0
    score_threshold: float = 0.3
    height_range: tuple[float, float] = DEFAULT_HEIGHT_RANGE


DEFAULT_STYLE = FrameStyle()


def _tile_size(views: CameraViews, frame_height: int) -> tuple[int, int]:
    """Tile `(H, W)` for two rows in `frame_height`, keeping the first image's aspect; both even (video codecs)."""
    image_height, image_width = views.images[0].shape[:2]
    tile_height = 2 * (frame_height // 4)
    return tile_height, 2 * max(1, round(tile_height * image_width / image_height / 2))


def _bev_view(side: int, style: FrameStyle, forward: Sequence[float] | None) -> BEVView:
    return BEVView(side, style.bev_extent, (1.0, 0.0) if forward is None else tuple(float(value) for value in forward))


def render_sample(
    class_names: Sequence[str],
    views: CameraViews | None = None,
    points: np.ndarray | torch.Tensor | None = None,
    predictions: InstanceData | None = None,
    ground_truth: InstanceData | None = None,
    forward: Sequence[float] | None = None,
    title: str | None = None,
    style: FrameStyle = DEFAULT_STYLE,
) -> np.ndarray:
    """The BGR frame: camera mosaic (when `views` are given) left of the BEV panel, over a legend strip with `title`.

    Boxes are in the LiDAR frame the bundle's `lidar_aug` leads to (the model's frame); `forward`
    (the direction drawn up in BEV) defaults to `ego_forward` of the views' bundle.
    """
    box_sets = []
    if ground_truth is not None:
        box_sets.append(BoxSet.from_instances(ground_truth, ground_truth=True))
    if predictions is not None:
        box_sets.append(BoxSet.from_instances(predictions, style.score_threshold))
    if views is None:
        frame = render_bev(_bev_view(style.height, style, forward), points, box_sets, class_names, style.height_range)
    else:
        tile_size = _tile_size(views, style.height)
        forward = ego_forward(views.calib, views.camera_types) if forward is None else forward
        panel = render_bev(
            _bev_view(2 * tile_size[0], style, forward), points, box_sets, class_names, style.height_range
        )
        frame = np.concatenate([render_camera_mosaic(views, box_sets, class_names, tile_size), panel], axis=1)
    shown = sorted({int(label) for box_set in box_sets for label in box_set.labels})
    names = [class_names[label] for label in shown if 0 <= label < len(class_names)]
    return np.concatenate([frame, legend_strip(frame.shape[1], names, title or "")], axis=0)


def render_data_sample(
    inputs: dict,
    data_sample: Det3DDataSample,
    class_names: Sequence[str],
    style: FrameStyle = DEFAULT_STYLE,
    show_ground_truth: bool = True,
) -> np.ndarray:
    """The frame of one packed sample (`inputs` with `points` and, for camera models, `img`) after `test_step`.

    Boxes are drawn on the augmented images the model saw (`inputs['img']`, projected with the
    sample's `calib`); ground truth is drawn when the sample has any and `show_ground_truth`.
    """
    meta = data_sample.metainfo
    calib = data_sample.calib if "calib" in data_sample else None
    views = None
    if "img" in inputs and calib is not None and calib.num_cameras:
        names = meta.get("camera_types", [f"camera {index}" for index in range(calib.num_cameras)])
        views = CameraViews.from_model_input(inputs["img"], calib, names)
    ground_truth = data_sample.gt_instances_3d if "gt_instances_3d" in data_sample else None
    if ground_truth is not None and (not show_ground_truth or len(ground_truth.bboxes_3d) == 0):
        ground_truth = None
    predictions = data_sample.pred_instances_3d if "pred_instances_3d" in data_sample else None
    forward = ego_forward(calib, meta.get("camera_types", ()), meta.get("lidar2ego"))
    title = " ".join(str(meta[key]) for key in ("sample_idx", "token") if key in meta)
    return render_sample(class_names, views, inputs.get("points"), predictions, ground_truth, forward, title, style)


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write `image` (BGR) to `path` (format from the suffix, e.g. .png) via a temporary file and a rename."""
    path = os.fspath(path)
    try:
        ok, encoded = cv2.imencode(os.path.splitext(path)[1], image)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"save_image: OpenCV cannot encode an image of {image.dtype} {image.shape} as {path!r}")
    with atomic_write(path) as handle:
        handle.write(encoded.tobytes())
