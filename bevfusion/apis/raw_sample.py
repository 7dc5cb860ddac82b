"""`RawSample`: one key frame's sensor data without an info file, checked and turned into a pipeline results dict.

The results dict is exactly what the config's file readers (`LoadMultiViewImageFromFiles`,
`LoadPointsFromFile`) would have written, so the rest of the test pipeline (sweeps, image
augmentation, range filter, packing) runs unchanged on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from bevfusion.datasets.transforms import load_points_file

ImageInput = str | os.PathLike | np.ndarray
MatrixInput = np.ndarray | torch.Tensor | Sequence


@dataclass
class RawSample:
    """Sensor data of one key frame in the LiDAR frame, keyed by camera name (e.g. `CAM_FRONT`).

    Args:
        points: a LiDAR file (float32 rows of the config's `load_dim` values, as `.pcd.bin`) or a
            `(P, C)` array `x, y, z, intensity[, ring]`. With the multi-sweep loader in the pipeline,
            column 4 becomes the time lag (0 for this one frame), so 4 columns suffice.
        images: camera name -> image file or `HxWx3` uint8 RGB array; all of one size.
        cam2img: camera name -> `3x3` or `4x4` intrinsics for that image's pixels.
        lidar2cam: camera name -> `4x4` LiDAR -> camera transform.
        timestamp: seconds; kept as metainfo.

    A LiDAR-only model ignores the cameras; a camera model needs every camera its pipeline loads.
    """

    points: str | os.PathLike | np.ndarray | torch.Tensor
    images: Mapping[str, ImageInput] = field(default_factory=dict)
    cam2img: Mapping[str, MatrixInput] = field(default_factory=dict)
    lidar2cam: Mapping[str, MatrixInput] = field(default_factory=dict)
    timestamp: float = 0.0


@dataclass(frozen=True)
class ReaderSettings:
    """What the config's file readers would do: the cameras and their order, and the point columns kept.

    `camera_types` is empty for a pipeline without images; `time_lag_column` is True where the
    multi-sweep loader follows and overwrites column 4 with the time lag.
    """

    camera_types: tuple[str, ...]
    load_dim: int
    use_dim: tuple[int, ...]
    time_lag_column: bool


def _matrix(value: MatrixInput, name: str, shapes: tuple[tuple[int, int], ...]) -> np.ndarray:
    matrix = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
    if matrix.shape not in shapes:
        expected = " or ".join(f"{rows}x{columns}" for rows, columns in shapes)
        raise ValueError(f"{name}: expected a {expected} matrix, got shape {matrix.shape}")
    matrix = matrix.astype(np.float64)
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name}: holds NaN or inf values")
    padded = np.eye(4)
    padded[: matrix.shape[0], : matrix.shape[1]] = matrix
    return padded


def _image(value: ImageInput, camera: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        if value.ndim != 3 or value.shape[2] != 3 or value.dtype != np.uint8:
            raise ValueError(f"images[{camera}]: expected an HxWx3 uint8 RGB array, got {value.dtype} {value.shape}")
        return np.ascontiguousarray(value)
    path = os.fspath(value)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        reason = "not found" if not os.path.isfile(path) else "cannot be decoded"
        raise FileNotFoundError(f"images[{camera}]: image file {reason}: {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _check_camera_names(sample: RawSample, camera_types: Sequence[str]) -> None:
    for name in ("images", "cam2img", "lidar2cam"):
        given = set(getattr(sample, name))
        unknown = sorted(given - set(camera_types))
        if unknown:
            raise ValueError(f"RawSample.{name}: unknown cameras {unknown}; this model reads {list(camera_types)}")
        missing = [camera for camera in camera_types if camera not in given]
        if missing:
            raise ValueError(f"RawSample.{name}: missing cameras {missing}; this model reads {list(camera_types)}")


def _camera_results(sample: RawSample, camera_types: Sequence[str]) -> dict:
    _check_camera_names(sample, camera_types)
    images = [_image(sample.images[camera], camera) for camera in camera_types]
    sizes = {camera: image.shape[:2] for camera, image in zip(camera_types, images)}
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{camera} {height}x{width}" for camera, (height, width) in sizes.items())
        raise ValueError(f"RawSample.images: the cameras' images differ in size (H x W): {listing}")
    return {
        "img": images,
        "camera_types": list(camera_types),
        "cam2img": np.stack([_matrix(sample.cam2img[c], f"cam2img[{c}]", ((3, 3), (4, 4))) for c in camera_types]),
        "lidar2cam": np.stack([_matrix(sample.lidar2cam[c], f"lidar2cam[{c}]", ((4, 4),)) for c in camera_types]),
        "img_aug": np.tile(np.eye(4), (len(camera_types), 1, 1)),
    }


def _points(value: str | os.PathLike | np.ndarray | torch.Tensor, settings: ReaderSettings) -> np.ndarray:
    if isinstance(value, str | os.PathLike):
        points = load_points_file(os.fspath(value), settings.load_dim)
    else:
        points = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
        if points.ndim != 2:
            raise ValueError(f"RawSample.points: expected a (P, C) array, got shape {points.shape}")
        points = points.astype(np.float32)
        bad_rows = int((~np.isfinite(points).all(axis=1)).sum())
        if bad_rows:
            raise ValueError(f"RawSample.points: {bad_rows} of {len(points)} points hold NaN or inf values")
    needed = max(settings.use_dim) + 1
    if settings.time_lag_column and points.shape[1] == 4 and needed == 5:
        points = np.concatenate([points, np.zeros((len(points), 1), dtype=np.float32)], axis=1)
    if points.shape[1] < needed:
        raise ValueError(
            f"RawSample.points: {points.shape[1]} columns, but this config reads columns {list(settings.use_dim)} "
            "(x, y, z, intensity, ...)"
        )
    return np.ascontiguousarray(points[:, list(settings.use_dim)])


def raw_results(sample: RawSample, settings: ReaderSettings) -> dict:
    """The results dict the config's file readers would produce for `sample` (bad input raises, naming the field)."""
    if not isinstance(sample, RawSample):
        raise TypeError(f"raw_results: expected a RawSample, got {type(sample).__name__}")
    results = {
        "points": _points(sample.points, settings),
        "lidar_aug": np.eye(4),
        "lidar_sweeps": [],
        "timestamp": float(sample.timestamp),
        "token": "raw sample",
    }
    if settings.camera_types:
        results.update(_camera_results(sample, settings.camera_types))
    return results
