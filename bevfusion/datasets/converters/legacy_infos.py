"""Info files in the 0.x layout of mmdetection3d < 1.0 and MIT HAN Lab's bevfusion <-> v2.

The 0.x layout is `{'infos': [...], 'metadata': {'version': ...}}`. Per sample: `token`,
`lidar_path`, `timestamp` (microseconds), `lidar2ego_*` and `ego2global_*` (a devkit
quaternion `w, x, y, z` and a translation), `sweeps` and `cams`, each entry with
`data_path`, `sensor2lidar_rotation`/`_translation` (sensor -> key-frame LiDAR, applied as
`R @ p + t`), `sensor2ego_*`, `ego2global_*`, `timestamp` and `sample_data_token`; cameras
add their 3x3 intrinsics as `cam_intrinsic` (MIT HAN Lab's code release: `camera_intrinsics`,
plus a per-sample `location`). Annotated samples hold `gt_boxes` `(N, 7)` (z at the gravity
centre, the devkit box centre, in every dialect; the size/yaw layout is in `box_layouts`),
`gt_names`, `gt_velocity` `(N, 2)`, `num_lidar_pts`, `num_radar_pts` and `valid_flag`.

`legacy_to_v2` does what mmdetection3d's `update_infos_to_v2` does for nuScenes, except
that it converts the boxes (that script copies them: it expects 1.0.0rc files), keeps the
matrices float64, and makes every missing or malformed field an error naming the file,
the sample token and the field. `v2_to_legacy` writes the 0.x layout back, as those
projects' converters write it, so the two can be compared on one world.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyquaternion import Quaternion

from bevfusion.structures import LiDARBoxes

from .box_layouts import BOX_LAYOUTS, boxes_from_rows, detect_box_layout

LEGACY_FORMATS = ("0.x", "0.x-mit")
_INTRINSIC_KEYS = {"0.x": "cam_intrinsic", "0.x-mit": "camera_intrinsics"}
_LAYOUT_HINT = (
    "name it with NuScenesDataset(legacy_box_format=...) or `create_data.py update --legacy-box-format`: "
    "'second' (x y z w l h -yaw-pi/2: mmdetection3d < 1.0, MIT HAN Lab's bevfusion) "
    "or 'lwh' (x y z l w h yaw: mmdetection3d 1.0.0rc*)"
)


def is_legacy_layout(annotations: object) -> bool:
    return isinstance(annotations, dict) and {"infos", "metadata"} <= set(annotations)


def is_v2_layout(annotations: object) -> bool:
    return isinstance(annotations, dict) and {"metainfo", "data_list"} <= set(annotations)


def read_info_file(path: str, classes: Sequence[str], legacy_box_format: str = "auto") -> dict:
    """A v2 info file as is, or a 0.x one converted to v2 (labels index `classes`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"info file not found: {path}")
    with open(path, "rb") as handle:
        annotations = pickle.load(handle)
    if is_legacy_layout(annotations):
        return legacy_to_v2(annotations, path, classes, legacy_box_format)
    if is_v2_layout(annotations):
        return annotations
    raise ValueError(
        f"{path}: not an info file: expected a dict with 'metainfo' and 'data_list' (v2) "
        "or with 'infos' and 'metadata' (mmdetection3d < 1.0, MIT HAN Lab's bevfusion)"
    )


# ---------------------------------------------------------------------- 0.x -> v2
def _quaternion_pose(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = Quaternion(rotation).rotation_matrix
    matrix[:3, 3] = translation
    return matrix


class _Sample:
    """Field access on one 0.x sample: a missing or malformed field names the file, the sample token and the field."""

    def __init__(self, path: str, info: object, index: int) -> None:
        self.path = path
        self.token = f"infos[{index}]"
        if not isinstance(info, dict):
            self.fail("", f"is a {type(info).__name__}, not a dict")
        self.info = info
        self.token = str(self.field(info, "token"))

    def fail(self, field: str, problem: str) -> None:
        raise ValueError(f"{self.path}: sample {self.token}: {field!r} {problem}")

    def field(self, mapping: dict, key: str, where: str = "") -> object:
        if not isinstance(mapping, dict) or key not in mapping:
            self.fail(where + key, "is missing")
        return mapping[key]

    def array(self, mapping: dict, key: str, shape: tuple, where: str = "", dtype: type = np.float64) -> np.ndarray:
        """The field as an array of `shape` (None: any length); an empty field reads as zero rows."""
        value = self.field(mapping, key, where)
        try:
            array = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError):
            self.fail(where + key, f"is not an array of {np.dtype(dtype).name}")
        if array.size == 0 and None in shape:
            array = array.reshape([0 if size is None else size for size in shape])
        if array.ndim != len(shape) or any(want not in (None, got) for want, got in zip(shape, array.shape)):
            expected = "(" + ", ".join("N" if size is None else str(size) for size in shape) + ")"
            self.fail(where + key, f"has shape {array.shape}, expected {expected}")
        return array

    def pose(self, mapping: dict, prefix: str, where: str = "") -> np.ndarray:
        """4x4 from `<prefix>_rotation` (quaternion) and `<prefix>_translation`."""
        return _quaternion_pose(
            self.array(mapping, f"{prefix}_rotation", (4,), where),
            self.array(mapping, f"{prefix}_translation", (3,), where),
        )

    def sensor2lidar(self, mapping: dict, where: str) -> np.ndarray:
        matrix = np.eye(4)
        matrix[:3, :3] = self.array(mapping, "sensor2lidar_rotation", (3, 3), where)
        matrix[:3, 3] = self.array(mapping, "sensor2lidar_translation", (3,), where)
        return matrix

    def seconds(self, mapping: dict, where: str = "") -> float:
        return float(self.array(mapping, "timestamp", (), where)) / 1e6

    def entries(self, key: str, kind: type) -> list | dict:
        value = self.field(self.info, key)
        if not isinstance(value, kind):
            self.fail(key, f"is a {type(value).__name__}, expected a {kind.__name__}")
        return value


def _sweep_v2(sample: _Sample, sweep: dict, where: str) -> dict:
    return {
        "lidar_points": {
            "lidar_path": str(sample.field(sweep, "data_path", where)),
            "lidar2ego": sample.pose(sweep, "sensor2ego", where).tolist(),
            "lidar2sensor": np.linalg.inv(sample.sensor2lidar(sweep, where)).tolist(),
        },
        "timestamp": sample.seconds(sweep, where),
        "ego2global": sample.pose(sweep, "ego2global", where).tolist(),
        "sample_data_token": sample.field(sweep, "sample_data_token", where),
    }


def _camera_v2(sample: _Sample, camera: dict, where: str) -> dict:
    intrinsic_key = next((key for key in _INTRINSIC_KEYS.values() if isinstance(camera, dict) and key in camera), None)
    return {
        "img_path": os.path.basename(str(sample.field(camera, "data_path", where))),
        "cam2img": sample.array(camera, intrinsic_key or "cam_intrinsic", (3, 3), where).tolist(),
        "cam2ego": sample.pose(camera, "sensor2ego", where).tolist(),
        "lidar2cam": np.linalg.inv(sample.sensor2lidar(camera, where)).tolist(),
        "sample_data_token": sample.field(camera, "sample_data_token", where),
        "timestamp": sample.seconds(camera, where),
    }


def _sample_v2(sample: _Sample, index: int) -> dict:
    info = sample.info
    return {
        "sample_idx": index,
        "token": sample.token,
        "timestamp": sample.seconds(info),
        "ego2global": sample.pose(info, "ego2global").tolist(),
        "lidar_points": {
            "num_pts_feats": int(info.get("num_features", 5)),
            "lidar_path": os.path.basename(str(sample.field(info, "lidar_path"))),
            "lidar2ego": sample.pose(info, "lidar2ego").tolist(),
        },
        "lidar_sweeps": [_sweep_v2(sample, s, f"sweeps[{i}].") for i, s in enumerate(sample.entries("sweeps", list))],
        "images": {
            name: _camera_v2(sample, camera, f"cams.{name}.") for name, camera in sample.entries("cams", dict).items()
        },
    }


@dataclass
class _Annotations:
    boxes: np.ndarray
    names: list[str]
    velocity: np.ndarray
    num_lidar_pts: np.ndarray
    num_radar_pts: np.ndarray
    valid: np.ndarray


def _annotations(sample: _Sample) -> _Annotations | None:
    """The sample's ground truth, or None for an unannotated (test split) sample without `gt_boxes`."""
    info = sample.info
    if "gt_boxes" not in info:
        return None
    boxes = sample.array(info, "gt_boxes", (None, 7))
    count = len(boxes)
    return _Annotations(
        boxes=boxes,
        names=[str(name) for name in sample.array(info, "gt_names", (count,), dtype=object)],
        velocity=sample.array(info, "gt_velocity", (count, 2)),
        num_lidar_pts=sample.array(info, "num_lidar_pts", (count,), dtype=np.int64),
        num_radar_pts=sample.array(info, "num_radar_pts", (count,), dtype=np.int64),
        valid=sample.array(info, "valid_flag", (count,), dtype=bool),
    )


def _instances(ann: _Annotations, layout: str, labels: dict[str, int], ignored: Counter) -> list[dict]:
    instances = []
    boxes = boxes_from_rows(ann.boxes, ann.velocity, layout).to_info()
    for box, name, lidar_pts, radar_pts, valid in zip(
        boxes, ann.names, ann.num_lidar_pts, ann.num_radar_pts, ann.valid
    ):
        label = labels.get(name, -1)
        if label < 0:
            ignored[name] += 1
        instances.append(
            {
                "bbox_3d": box["bbox_3d"],
                "bbox_label": label,
                "bbox_label_3d": label,
                "bbox_3d_isvalid": bool(valid),
                "velocity": box["velocity"],
                "num_lidar_pts": int(lidar_pts),
                "num_radar_pts": int(radar_pts),
            }
        )
    return instances


def legacy_to_v2(annotations: dict, path: str, classes: Sequence[str], box_layout: str = "auto") -> dict:
    """The v2 info dict of a 0.x one read from `path`; `box_layout` is `auto`, `lwh` or `second`.

    Boxes named outside `classes` are kept as ignored instances (label -1, as mmdetection3d
    does); one warning counts them per name. `NuScenesDataset` never makes them targets.
    """
    if box_layout not in ("auto", *BOX_LAYOUTS):
        raise ValueError(f"unknown legacy box layout {box_layout!r}; expected 'auto' or one of {BOX_LAYOUTS}")
    infos, metadata = annotations["infos"], annotations["metadata"]
    if not isinstance(infos, list):
        raise ValueError(f"{path}: 'infos' is a {type(infos).__name__}, expected a list")
    if not isinstance(metadata, dict) or "version" not in metadata:
        raise ValueError(f"{path}: 'metadata.version' is missing")
    samples = [_Sample(path, info, index) for index, info in enumerate(infos)]
    data_list = [_sample_v2(sample, index) for index, sample in enumerate(samples)]
    labelled = [_annotations(sample) for sample in samples]
    if box_layout == "auto":
        present = [ann for ann in labelled if ann is not None]
        names = [name for ann in present for name in ann.names]
        rows = np.concatenate([ann.boxes for ann in present]) if present else np.zeros((0, 7))
        box_layout = detect_box_layout(names, rows, path, _LAYOUT_HINT)
    labels = {name: label for label, name in enumerate(classes)}
    ignored: Counter = Counter()
    for info, ann in zip(data_list, labelled):
        info["instances"] = [] if ann is None else _instances(ann, box_layout, labels, ignored)
    if ignored:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(ignored.items()))
        warnings.warn(
            f"{path}: {sum(ignored.values())} boxes named outside the classes are kept as ignored instances "
            f"(label -1): {counts}",
            stacklevel=2,
        )
    categories = {**labels, **{name: -1 for name in sorted(ignored)}}
    metainfo = {"categories": categories, "dataset": "nuscenes", "version": metadata["version"], "info_version": "1.1"}
    return {"metainfo": metainfo, "data_list": data_list}


# ---------------------------------------------------------------------- v2 -> 0.x
def _pose_fields(prefix: str, matrix: np.ndarray) -> dict:
    return {
        f"{prefix}_translation": matrix[:3, 3].tolist(),
        f"{prefix}_rotation": Quaternion(matrix=matrix[:3, :3]).elements.tolist(),
    }


def _microseconds(seconds: float) -> int:
    return int(round(seconds * 1e6))


def _sensor_fields(sensor2lidar: np.ndarray) -> dict:
    return {"sensor2lidar_rotation": sensor2lidar[:3, :3], "sensor2lidar_translation": sensor2lidar[:3, 3]}


def _legacy_sweep(sweep: dict, root_path: str) -> dict:
    points = sweep["lidar_points"]
    return {
        "data_path": os.path.join(root_path, points["lidar_path"]),
        "type": "lidar",
        "sample_data_token": sweep["sample_data_token"],
        **_pose_fields("sensor2ego", np.asarray(points["lidar2ego"])),
        **_pose_fields("ego2global", np.asarray(sweep["ego2global"])),
        "timestamp": _microseconds(sweep["timestamp"]),
        **_sensor_fields(np.linalg.inv(np.asarray(points["lidar2sensor"]))),
    }


def _legacy_camera(camera: str, image: dict, key2global: np.ndarray, root_path: str, info_format: str) -> dict:
    cam2lidar = np.linalg.inv(np.asarray(image["lidar2cam"]))
    cam2ego = np.asarray(image["cam2ego"])
    return {
        "data_path": os.path.join(root_path, "samples", camera, image["img_path"]),
        "type": camera,
        "sample_data_token": image["sample_data_token"],
        **_pose_fields("sensor2ego", cam2ego),
        **_pose_fields("ego2global", key2global @ cam2lidar @ np.linalg.inv(cam2ego)),
        "timestamp": _microseconds(image["timestamp"]),
        **_sensor_fields(cam2lidar),
        _INTRINSIC_KEYS[info_format]: np.asarray(image["cam2img"], dtype=np.float64),
    }


def _legacy_annotations(instances: list[dict], names: list[str]) -> dict:
    rows = np.array([instance["bbox_3d"] for instance in instances], dtype=np.float64).reshape(-1, 7)
    return {
        "gt_boxes": LiDARBoxes(np.concatenate([rows, np.zeros((len(rows), 2))], 1)).to_second_format(),
        "gt_names": np.array(names, dtype=str),
        "gt_velocity": np.array([instance["velocity"] for instance in instances], dtype=np.float64).reshape(-1, 2),
        "num_lidar_pts": np.array([instance["num_lidar_pts"] for instance in instances], dtype=np.int64),
        "num_radar_pts": np.array([instance["num_radar_pts"] for instance in instances], dtype=np.int64),
        "valid_flag": np.array([instance["bbox_3d_isvalid"] for instance in instances], dtype=bool),
    }


def _legacy_sample(info: dict, names: list[str], location: str, root_path: str, info_format: str) -> dict:
    if len(names) != len(info["instances"]):
        raise ValueError(f"sample {info['token']}: {len(names)} names for {len(info['instances'])} instances")
    lidar2ego, ego2global = np.asarray(info["lidar_points"]["lidar2ego"]), np.asarray(info["ego2global"])
    legacy = {
        "lidar_path": os.path.join(root_path, "samples", "LIDAR_TOP", info["lidar_points"]["lidar_path"]),
        "token": info["token"],
        "sweeps": [_legacy_sweep(sweep, root_path) for sweep in info["lidar_sweeps"]],
        "cams": {
            camera: _legacy_camera(camera, image, ego2global @ lidar2ego, root_path, info_format)
            for camera, image in info["images"].items()
        },
        **_pose_fields("lidar2ego", lidar2ego),
        **_pose_fields("ego2global", ego2global),
        "timestamp": _microseconds(info["timestamp"]),
        **_legacy_annotations(info["instances"], names),
    }
    if info_format == "0.x-mit":
        legacy["location"] = location
    return legacy


def v2_to_legacy(v2: dict, extras: Sequence[tuple[list[str], str]], root_path: str, info_format: str) -> dict:
    """The 0.x dict (dialect `info_format`: `0.x` or `0.x-mit`) of a v2 dict written from the devkit.

    `extras` holds per sample what v2 does not keep: every instance's name (its detection
    class, or the devkit category where it maps to none) and the log's location. Paths are
    `root_path` joined to the standard folders, as the devkit (and so those converters) gives them.
    """
    if info_format not in LEGACY_FORMATS:
        raise ValueError(f"unknown 0.x info format {info_format!r}; expected one of {LEGACY_FORMATS}")
    infos = [
        _legacy_sample(info, names, location, root_path, info_format)
        for info, (names, location) in zip(v2["data_list"], extras, strict=True)
    ]
    return {"infos": infos, "metadata": {"version": v2["metainfo"]["version"]}}
