"""Detections in the LiDAR frame -> the nuScenes detection submission (global frame, JSON).

A submission is `{'meta': {use_camera, use_lidar, use_radar, use_map, use_external},
'results': {sample_token: [box, ...]}}`; each box has `sample_token`, `translation`,
`size` (w, l, h), `rotation` (quaternion w, x, y, z), `velocity` (vx, vy), `detection_name`,
`detection_score` and `attribute_name`, all in the global frame, as
`nuscenes.eval.common.loaders.load_prediction` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bevfusion.fileio import atomic_write
from bevfusion.structures import LiDARBoxes

from .attributes import motion_attribute

MODALITY_KEYS = ("use_camera", "use_lidar", "use_radar", "use_map", "use_external")


def submission_meta(modality: dict[str, bool]) -> dict[str, bool]:
    """The submission's `meta`: every devkit modality flag, False where `modality` does not set it."""
    unknown = set(modality) - set(MODALITY_KEYS)
    if unknown:
        raise ValueError(f"modality: unknown keys {sorted(unknown)}; expected some of {list(MODALITY_KEYS)}")
    return {key: bool(modality.get(key, False)) for key in MODALITY_KEYS}


def detections_to_submission(
    token: str,
    boxes: LiDARBoxes,
    scores: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    lidar2ego: np.ndarray,
    ego2global: np.ndarray,
    max_boxes: int | None = None,
) -> list[dict[str, Any]]:
    """Submission boxes of one sample: LiDAR-frame `boxes` moved to the global frame.

    `labels` index `classes`; the attribute follows each box's class and global speed.
    With `max_boxes`, only that many best-scoring boxes are kept (the devkit allows 500).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(
            f"sample {token}: {len(boxes)} boxes, {len(scores)} scores and {len(labels)} labels; they must match"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"sample {token}: labels must index the {len(classes)} classes, got {sorted(set(labels))}")
    if not np.isfinite(scores).all():
        raise ValueError(f"sample {token}: detection scores must be finite (the devkit rejects NaN)")
    if len(boxes) and not bool((boxes.dims > 0).all()):
        raise ValueError(f"sample {token}: box sizes (l, w, h) must be positive (the devkit rejects others)")
    keep = np.argsort(-scores, kind="stable")[:max_boxes]
    names = [classes[label] for label in labels[keep]]
    submission = []
    for box, name, score in zip(boxes[torch.from_numpy(keep)].to_devkit(lidar2ego, ego2global), names, scores[keep]):
        velocity = box.velocity[:2]
        submission.append(
            {
                "sample_token": token,
                "translation": box.center.tolist(),
                "size": box.wlh.tolist(),
                "rotation": box.orientation.elements.tolist(),
                "velocity": velocity.tolist(),
                "detection_name": name,
                "detection_score": float(score),
                "attribute_name": motion_attribute(name, float(np.hypot(*velocity))),
            }
        )
    return submission


def dump_json_atomic(obj: Any, path: str) -> None:
    """Write `obj` as JSON to `path` through a temporary file and a rename."""
    with atomic_write(path, "w") as handle:
        json.dump(obj, handle)
