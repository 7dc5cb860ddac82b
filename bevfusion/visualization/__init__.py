"""Rendering of detections: camera views, BEV panels and scene videos (OpenCV only).

`render_data_sample(inputs, data_sample, class_names)` draws one packed sample after `test_step`
(as `inference_detector` returns it, or as a test loop sees it); `save_image` writes the PNG
atomically; `SceneVideoWriter` / `write_scene_video` turn a scene's frames into an MP4.
"""

from .bev_panel import BEVView, ego_forward, render_bev
from .box_projection import NEAR_PLANE, CameraProjection, box_segments, clip_segments
from .box_set import BoxSet
from .camera_views import NUSCENES_LAYOUT, CameraViews, mosaic_layout, render_camera_mosaic
from .frame import FrameStyle, render_data_sample, render_sample, save_image
from .palette import CLASS_COLORS, class_color
from .video import SceneVideoWriter, write_scene_video

__all__ = [
    "BEVView",
    "BoxSet",
    "CLASS_COLORS",
    "CameraProjection",
    "CameraViews",
    "FrameStyle",
    "NEAR_PLANE",
    "NUSCENES_LAYOUT",
    "SceneVideoWriter",
    "box_segments",
    "class_color",
    "clip_segments",
    "ego_forward",
    "mosaic_layout",
    "render_bev",
    "render_camera_mosaic",
    "render_data_sample",
    "render_sample",
    "save_image",
    "write_scene_video",
]
