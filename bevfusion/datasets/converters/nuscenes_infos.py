"""nuScenes tables (through nuscenes-devkit) -> info files in mmdetection3d's v2 format.

One info file per split, `{'metainfo': {...}, 'data_list': [...]}`, with the same keys as
mmdetection3d's `nuscenes_infos_{split}.pkl` (info_version 1.1), so files written here
load in mmdetection3d and theirs load in `NuScenesDataset`:

- `lidar_points.lidar_path` is a file name relative to the data prefix `samples/LIDAR_TOP`;
- `lidar_sweeps[i].lidar_points.lidar2sensor` maps the key-frame LiDAR frame into the
  sweep's LiDAR frame (its inverse brings sweep points into the key frame);
- `images[CAM].lidar2cam` maps the key-frame LiDAR frame into the camera at the camera's
  own timestamp (ego poses at both times), `cam2img` is the 3x3 intrinsic;
- `instances[i].bbox_3d` is `x, y, z, l, w, h, yaw` in the key-frame LiDAR frame with z at
  the gravity centre and yaw from +x toward +y; `velocity` is `vx, vy` in that frame (NaN
  where the devkit cannot tell).

`info_format="0.x"` / `"0.x-mit"` writes the same samples in the layout of mmdetection3d < 1.0
or of MIT HAN Lab's bevfusion instead (see `legacy_infos`), for tools that still read it.
"""

from __future__ import annotations

import json
import os

import numpy as np
from pyquaternion import Quaternion
from tqdm import tqdm

from bevfusion.structures import LiDARBoxes

from .atomic import dump_pickle_atomic

CLASSES = (
    "car",
    "truck",
    "trailer",
    "bus",
    "construction_vehicle",
    "bicycle",
    "motorcycle",
    "pedestrian",
    "traffic_cone",
    "barrier",
)
CAMERA_TYPES = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")
INFO_FORMATS = ("v2", "0.x", "0.x-mit")
VERSION_SPLITS = {
    "v1.0-trainval": ("train", "val"),
    "v1.0-mini": ("mini_train", "mini_val"),
    "v1.0-test": ("test",),
}


def info_path(out_dir: str, split: str) -> str:
    """Where the info file of `split` (`train`, `val` or `test`) goes."""
    return os.path.join(out_dir, f"nuscenes_infos_{split}.pkl")


def pose_matrix(rotation: list[float], translation: list[float]) -> np.ndarray:
    """4x4 homogeneous matrix from a devkit quaternion `(w, x, y, z)` and a translation."""
    matrix = np.eye(4)
    matrix[:3, :3] = Quaternion(rotation).rotation_matrix
    matrix[:3, 3] = translation
    return matrix


def _custom_split_key(splits: dict, role: str, path: str) -> str:
    """The `splits.json` key for `role` (`train`/`val`): the key itself, or the one key ending in `_<role>`.

    The devkit reserves its official split names for its own tables, so generated sets
    name theirs like `synthetic_train`; both spellings are accepted.
    """
    if role in splits:
        return role
    matches = [key for key in splits if key.endswith(f"_{role}")]
    if len(matches) != 1:
        raise ValueError(f"{path}: expected one '{role}' or '*_{role}' split, found {sorted(splits)}")
    return matches[0]


def split_scene_names(nusc, version: str) -> dict[str, set[str]]:
    """Scene names per output split (`train`/`val`, or `test`).

    A `<dataroot>/<version>/splits.json` (the devkit's custom-split file) overrides the
    official split tables, so generated sets with their own scenes can be split.
    """
    custom = os.path.join(nusc.dataroot, version, "splits.json")
    if os.path.exists(custom):
        with open(custom) as handle:
            splits = json.load(handle)
        return {role: set(splits[_custom_split_key(splits, role, custom)]) for role in ("train", "val")}
    if version not in VERSION_SPLITS:
        raise ValueError(f"unknown nuScenes version {version!r}; expected one of {sorted(VERSION_SPLITS)}")
    from nuscenes.utils.splits import create_splits_scenes

    official = create_splits_scenes()
    names = VERSION_SPLITS[version]
    if version == "v1.0-test":
        return {"test": set(official["test"])}
    return {"train": set(official[names[0]]), "val": set(official[names[1]])}


class _SensorPoses:
    """Pose lookups for one sample_data record: sensor->ego, ego->global and sensor->global."""

    def __init__(self, nusc, sample_data_token: str) -> None:
        self.record = nusc.get("sample_data", sample_data_token)
        calibrated = nusc.get("calibrated_sensor", self.record["calibrated_sensor_token"])
        ego_pose = nusc.get("ego_pose", self.record["ego_pose_token"])
        self.calibrated = calibrated
        self.sensor2ego = pose_matrix(calibrated["rotation"], calibrated["translation"])
        self.ego2global = pose_matrix(ego_pose["rotation"], ego_pose["translation"])
        self.sensor2global = self.ego2global @ self.sensor2ego
        self.timestamp = self.record["timestamp"] / 1e6


def _lidar_sweeps(nusc, key: _SensorPoses, max_sweeps: int) -> list[dict]:
    """The up to `max_sweeps` LiDAR sweeps before the key frame, newest first."""
    global2key = np.linalg.inv(key.sensor2global)
    sweeps = []
    token = key.record["prev"]
    while token and len(sweeps) < max_sweeps:
        sweep = _SensorPoses(nusc, token)
        sweep2key = global2key @ sweep.sensor2global
        sweeps.append(
            {
                "lidar_points": {
                    "lidar_path": sweep.record["filename"],
                    "lidar2ego": sweep.sensor2ego.tolist(),
                    "lidar2sensor": np.linalg.inv(sweep2key).tolist(),
                },
                "timestamp": sweep.timestamp,
                "ego2global": sweep.ego2global.tolist(),
                "sample_data_token": token,
            }
        )
        token = sweep.record["prev"]
    return sweeps


def _camera_infos(nusc, sample: dict, key: _SensorPoses) -> dict[str, dict]:
    images = {}
    for camera in CAMERA_TYPES:
        if camera not in sample["data"]:
            continue
        cam = _SensorPoses(nusc, sample["data"][camera])
        lidar2cam = np.linalg.inv(cam.sensor2global) @ key.sensor2global
        images[camera] = {
            "img_path": os.path.basename(cam.record["filename"]),
            "height": cam.record["height"],
            "width": cam.record["width"],
            "cam2img": np.asarray(cam.calibrated["camera_intrinsic"], dtype=np.float64).tolist(),
            "cam2ego": cam.sensor2ego.tolist(),
            "lidar2cam": lidar2cam.tolist(),
            "sample_data_token": sample["data"][camera],
            "timestamp": cam.timestamp,
        }
    return images


def detection_name(category_name: str) -> str:
    """The detection class of a devkit category, or the category itself where it maps to none."""
    from nuscenes.eval.detection.utils import category_to_detection_name

    return category_to_detection_name(category_name) or category_name


def _legacy_extras(nusc, sample: dict) -> tuple[list[str], str]:
    """What a 0.x file holds that v2 does not: every annotation's name and the log's location."""
    names = [detection_name(nusc.get("sample_annotation", token)["category_name"]) for token in sample["anns"]]
    return names, nusc.get("log", nusc.get("scene", sample["scene_token"])["log_token"])["location"]


def _instances(nusc, sample: dict, key: _SensorPoses, categories: dict[str, int]) -> list[dict]:
    """Annotations of one sample in the key-frame LiDAR frame (mmdet3d v2 `instances`)."""
    records = [nusc.get("sample_annotation", token) for token in sample["anns"]]
    global_boxes = []
    for record in records:
        box = nusc.get_box(record["token"])
        box.velocity = nusc.box_velocity(record["token"])
        global_boxes.append(box)
    boxes = LiDARBoxes.from_devkit(global_boxes, key.sensor2ego, key.ego2global, unknown_velocity=float("nan"))
    instances = []
    for record, box in zip(records, boxes.to_info()):
        name = detection_name(record["category_name"])
        label = CLASSES.index(name) if name in CLASSES else -1
        if label < 0:
            categories.setdefault(name, -1)
        instances.append(
            {
                "bbox_3d": box["bbox_3d"],
                "bbox_label": label,
                "bbox_label_3d": label,
                "bbox_3d_isvalid": bool(record["num_lidar_pts"] + record["num_radar_pts"] > 0),
                "velocity": box["velocity"],
                "num_lidar_pts": int(record["num_lidar_pts"]),
                "num_radar_pts": int(record["num_radar_pts"]),
            }
        )
    return instances


def sample_info(nusc, sample: dict, sample_idx: int, max_sweeps: int, categories: dict[str, int]) -> dict:
    """The v2 info dict of one key frame."""
    key = _SensorPoses(nusc, sample["data"]["LIDAR_TOP"])
    return {
        "sample_idx": sample_idx,
        "token": sample["token"],
        "scene_token": sample["scene_token"],  # beyond mmdetection3d's v2 keys: lets the demo render whole scenes
        "timestamp": sample["timestamp"] / 1e6,
        "ego2global": key.ego2global.tolist(),
        "lidar_points": {
            "num_pts_feats": 5,
            "lidar_path": os.path.basename(key.record["filename"]),
            "lidar2ego": key.sensor2ego.tolist(),
        },
        "lidar_sweeps": _lidar_sweeps(nusc, key, max_sweeps),
        "images": _camera_infos(nusc, sample, key),
        "instances": _instances(nusc, sample, key, categories),
    }


def create_nuscenes_infos(
    root_path: str,
    version: str,
    out_dir: str | None = None,
    max_sweeps: int = 10,
    overwrite: bool = False,
    info_format: str = "v2",
) -> dict[str, str]:
    """Write `nuscenes_infos_{split}.pkl` for every split of `version` in `info_format`; returns split -> path.

    A split whose file already exists is left alone unless `overwrite`.
    """
    from nuscenes.nuscenes import NuScenes

    from .legacy_infos import v2_to_legacy

    if info_format not in INFO_FORMATS:
        raise ValueError(f"unknown info format {info_format!r}; expected one of {INFO_FORMATS}")
    out_dir = out_dir or root_path
    nusc = NuScenes(version=version, dataroot=root_path, verbose=False)
    splits = split_scene_names(nusc, version)
    paths = {split: info_path(out_dir, split) for split in splits}
    todo = [split for split, path in paths.items() if overwrite or not os.path.exists(path)]
    for split in set(paths) - set(todo):
        print(f"[skip] {paths[split]} exists (pass --overwrite to rebuild it)")
    if not todo:
        return paths
    scene_split = {scene["token"]: split for scene in nusc.scene for split in todo if scene["name"] in splits[split]}
    categories = {name: label for label, name in enumerate(CLASSES)}
    data_lists: dict[str, list[dict]] = {split: [] for split in todo}
    extras: dict[str, list[tuple[list[str], str]]] = {split: [] for split in todo}
    for sample in tqdm(nusc.sample, desc=f"nuScenes {version} infos"):
        split = scene_split.get(sample["scene_token"])
        if split is not None:
            data_list = data_lists[split]
            data_list.append(sample_info(nusc, sample, len(data_list), max_sweeps, categories))
            if info_format != "v2":
                extras[split].append(_legacy_extras(nusc, sample))
    for split in todo:
        metainfo = {
            "categories": dict(categories),
            "dataset": "nuscenes",
            "version": version,
            "info_version": "1.1",
        }
        infos = {"metainfo": metainfo, "data_list": data_lists[split]}
        if info_format != "v2":
            infos = v2_to_legacy(infos, extras[split], root_path, info_format)
        dump_pickle_atomic(infos, paths[split])
        print(f"wrote {paths[split]} ({len(data_lists[split])} samples, {info_format} layout)")
    return paths
