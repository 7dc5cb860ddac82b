"""Annotation records of one key frame: boxes, attributes, visibility and LiDAR point counts.

`num_lidar_pts` is counted exactly as a devkit user checks it: the stored float32 points,
the box from the stored record moved into the LiDAR frame as `NuScenes.get_sample_data`
does, and `points_in_box`. So the count and the check agree point for point.
"""

from __future__ import annotations

import numpy as np
import torch
from nuscenes.utils.data_classes import Box
from nuscenes.utils.geometry_utils import points_in_box
from pyquaternion import Quaternion

from bevfusion.structures import LiDARBoxes

from .tables import visibility_token


def box_fields(global_boxes: np.ndarray) -> list[dict]:
    """nuScenes `translation`, `size` (w, l, h) and `rotation` of global boxes `(N, 9)`."""
    identity = np.eye(4)
    boxes = LiDARBoxes(torch.as_tensor(global_boxes, dtype=torch.float64)).to_devkit(identity, identity)
    return [
        {"translation": box.center.tolist(), "size": box.wlh.tolist(), "rotation": box.orientation.elements.tolist()}
        for box in boxes
    ]


def count_points(fields: list[dict], points: np.ndarray, ego_pose: dict, calibration: dict) -> list[int]:
    """Points of the stored scan `(N, 5)` float32 inside each box, counted in the LiDAR frame."""
    xyz = points[:, :4].T[:3]
    counts = []
    for field in fields:
        box = Box(field["translation"], field["size"], Quaternion(field["rotation"]))
        box.translate(-np.array(ego_pose["translation"]))
        box.rotate(Quaternion(ego_pose["rotation"]).inverse)
        box.translate(-np.array(calibration["translation"]))
        box.rotate(Quaternion(calibration["rotation"]).inverse)
        counts.append(int(points_in_box(box, xyz).sum()))
    return counts


def visibility_tokens(visible: np.ndarray, silhouette: np.ndarray) -> list[str]:
    """nuScenes visibility bin of each object from its visible and unoccluded pixel counts over all cameras."""
    fraction = np.divide(visible, silhouette, out=np.zeros(len(visible)), where=silhouette > 0)
    return [visibility_token(float(value)) for value in fraction]
