"""Loading transforms: LiDAR points, multi-sweep points and multi-view images from disk.

Every transform is a plain callable `results -> results` registered in TRANSFORMS.
Points stay `(P, C)` float32 numpy arrays until `Pack3DDetInputs`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import cv2
import numpy as np

from bevfusion.registry import TRANSFORMS

from .randomness import transform_rng


def load_points_file(path: str, load_dim: int) -> np.ndarray:
    """Read a `.bin`/`.pcd.bin` of float32 rows with `load_dim` values each.

    Rows holding NaN or inf are dropped with a warning that counts them, so they never
    reach voxelization. An empty file gives a valid `(0, load_dim)` array.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"point cloud file not found: {path}")
    size = os.path.getsize(path)
    row_bytes = 4 * load_dim
    if size % row_bytes:
        raise ValueError(
            f"{path}: size {size} bytes is not a multiple of {load_dim} float32 values ({row_bytes} bytes per point)"
        )
    points = np.fromfile(path, dtype=np.float32).reshape(-1, load_dim)
    if not np.isfinite(points).all():
        finite = np.isfinite(points).all(axis=1)
        warnings.warn(f"{path}: dropped {int((~finite).sum())} points with NaN or inf values", stacklevel=2)
        points = points[finite]
    return points


@TRANSFORMS.register_module()
class LoadPointsFromFile:
    """Load the key-frame points; keep the columns `use_dim` (an int keeps the first ones).

    Writes `points` and initialises `lidar_aug` (identity) for the augmentations.
    """

    def __init__(self, load_dim: int = 5, use_dim: int | Sequence[int] = 5) -> None:
        self.load_dim = load_dim
        self.use_dim = list(range(use_dim)) if isinstance(use_dim, int) else list(use_dim)
        if max(self.use_dim) >= load_dim:
            raise ValueError(f"LoadPointsFromFile: use_dim {self.use_dim} exceeds load_dim {load_dim}")

    def __call__(self, results: dict) -> dict:
        points = load_points_file(results["lidar_points"]["lidar_path"], self.load_dim)
        results["points"] = np.ascontiguousarray(points[:, self.use_dim])
        results.setdefault("lidar_aug", np.eye(4))
        return results


@TRANSFORMS.register_module()
class LoadPointsFromMultiSweeps:
    """Add up to `sweeps_num` earlier LiDAR sweeps, moved into the key-frame LiDAR frame.

    As in BEVFusion, column 4 of every point becomes the time lag in seconds (key frame
    points get 0), so the 5 columns are `x, y, z, intensity, time lag`. Training picks
    sweeps at random without replacement; `test_mode` takes the newest ones. Points within
    `remove_close` metres of the sweep's sensor (the ego vehicle's own returns) are dropped.
    """

    def __init__(
        self,
        sweeps_num: int = 9,
        load_dim: int = 5,
        use_dim: Sequence[int] = (0, 1, 2, 3, 4),
        remove_close: float = 1.0,
        test_mode: bool = False,
        seed: int | None = None,
    ) -> None:
        self.sweeps_num = sweeps_num
        self.load_dim = load_dim
        self.use_dim = list(use_dim)
        self.remove_close = remove_close
        self.test_mode = test_mode
        self.rng = transform_rng(seed)

    def _choose(self, count: int) -> np.ndarray:
        if count <= self.sweeps_num or self.test_mode:
            return np.arange(min(count, self.sweeps_num))
        return np.sort(self.rng.choice(count, self.sweeps_num, replace=False))

    def __call__(self, results: dict) -> dict:
        points = results["points"]
        if points.shape[1] < 5:
            raise ValueError("LoadPointsFromMultiSweeps needs 5 point columns (the 5th becomes the time lag)")
        points[:, 4] = 0.0
        parts = [points]
        sweeps = results.get("lidar_sweeps", [])
        for index in self._choose(len(sweeps)):
            sweep = sweeps[index]
            path = sweep["lidar_points"]["lidar_path"]
            try:
                cloud = load_points_file(path, self.load_dim)
            except FileNotFoundError as error:
                raise FileNotFoundError(
                    f"sweep {index} of sample {results.get('token', results.get('sample_idx'))}: {error}"
                ) from error
            if self.remove_close > 0:
                cloud = cloud[np.hypot(cloud[:, 0], cloud[:, 1]) >= self.remove_close]
            sweep2key = np.linalg.inv(np.asarray(sweep["lidar_points"]["lidar2sensor"], dtype=np.float64))
            cloud[:, :3] = cloud[:, :3] @ sweep2key[:3, :3].T.astype(np.float32) + sweep2key[:3, 3].astype(np.float32)
            cloud[:, 4] = results["timestamp"] - sweep["timestamp"]
            parts.append(cloud[:, self.use_dim])
        results["points"] = np.ascontiguousarray(np.concatenate(parts)) if len(parts) > 1 else points
        return results


@TRANSFORMS.register_module()
class LoadMultiViewImageFromFiles:
    """Decode the camera images with OpenCV (BGR -> RGB) and gather their calibration.

    Writes `img` (list of HxWx3 uint8 RGB), `cam2img` and `lidar2cam` `(N, 4, 4)`, and an
    identity `img_aug` `(N, 4, 4)` that the image augmentation updates.
    """

    def __init__(
        self,
        camera_types: Sequence[str] = (
            "CAM_FRONT",
            "CAM_FRONT_RIGHT",
            "CAM_FRONT_LEFT",
            "CAM_BACK",
            "CAM_BACK_LEFT",
            "CAM_BACK_RIGHT",
        ),
    ) -> None:
        self.camera_types = list(camera_types)

    def __call__(self, results: dict) -> dict:
        images, cam2img, lidar2cam = [], [], []
        for camera in self.camera_types:
            if camera not in results.get("images", {}):
                raise KeyError(f"sample {results.get('token')}: no {camera} entry in the info file's images")
            info = results["images"][camera]
            image = cv2.imread(info["img_path"], cv2.IMREAD_COLOR)
            if image is None:
                reason = "missing" if not os.path.isfile(info["img_path"]) else "cannot be decoded"
                raise FileNotFoundError(f"camera image {reason}: {info['img_path']} ({camera})")
            images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            intrinsic = np.eye(4)
            given = np.asarray(info["cam2img"], dtype=np.float64)
            intrinsic[: given.shape[0], : given.shape[1]] = given
            cam2img.append(intrinsic)
            lidar2cam.append(np.asarray(info["lidar2cam"], dtype=np.float64))
        results["img"] = images
        results["camera_types"] = list(self.camera_types)
        results["cam2img"] = np.stack(cam2img)
        results["lidar2cam"] = np.stack(lidar2cam)
        results["img_aug"] = np.tile(np.eye(4), (len(images), 1, 1))
        results.setdefault("lidar_aug", np.eye(4))
        return results
