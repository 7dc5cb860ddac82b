"""Shared helpers for the tests that run on info files made from the synthetic nuScenes set."""

from __future__ import annotations

import pickle
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pyquaternion import Quaternion

from bevfusion.datasets import NuScenesDataset
from bevfusion.structures import LiDARBoxes

REPO = Path(__file__).resolve().parents[2]
CREATE_DATA = str(REPO / "tools" / "create_data.py")
SYNTHETIC_CONFIG = str(REPO / "configs" / "_base_" / "datasets" / "synthetic_nuscenes.py")


@dataclass(frozen=True)
class Prepared:
    """A synthetic dataroot and the outputs create_data.py wrote for it."""

    root: str
    out: str
    info: dict[str, str]
    db_info: str


def run_create_data(*args: str) -> None:
    """`tools/create_data.py ARGS` in this process, as a user runs it."""
    argv = sys.argv
    sys.argv = ["create_data.py", *args]
    try:
        runpy.run_path(CREATE_DATA, run_name="__main__")
    finally:
        sys.argv = argv


def load_infos(prepared: Prepared, split: str) -> dict:
    with open(prepared.info[split], "rb") as handle:
        return pickle.load(handle)


def info_boxes(info: dict, dtype=torch.float32) -> LiDARBoxes:
    """Every instance of an info sample as boxes (no filtering), velocity NaN -> 0."""
    rows = [list(item["bbox_3d"]) + list(item["velocity"]) for item in info["instances"]]
    return LiDARBoxes(torch.nan_to_num(torch.tensor(rows, dtype=dtype).reshape(-1, 9)))


def all_instances_dataset(prepared: Prepared, split: str, ann_file: str | None = None, **kwargs) -> NuScenesDataset:
    """The split (or another info file of it) with every labelled box kept, also those without points."""
    return NuScenesDataset(
        ann_file=ann_file or prepared.info[split],
        data_root=prepared.root,
        test_mode=True,
        use_valid_flag=False,
        **kwargs,
    )


def mmdet3d_sensor2lidar(nusc, sd_token: str, key: tuple) -> tuple[dict, np.ndarray, np.ndarray]:
    """mmdet3d's (and MIT HAN Lab's) `obtain_sensor2top`, straight from the devkit tables.

    `key` is the key frame's `(l2e_r, l2e_t, e2g_r, e2g_t)` (rotation matrices, translations).
    Returns the sample_data record and its `sensor2lidar_rotation`, `sensor2lidar_translation`.
    """
    l2e_r, l2e_t, e2g_r, e2g_t = key
    sd = nusc.get("sample_data", sd_token)
    s_cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
    s_pose = nusc.get("ego_pose", sd["ego_pose_token"])
    s2e_r, s2e_t = Quaternion(s_cs["rotation"]).rotation_matrix, np.array(s_cs["translation"])
    se2g_r, se2g_t = Quaternion(s_pose["rotation"]).rotation_matrix, np.array(s_pose["translation"])
    inv_l, inv_e = np.linalg.inv(l2e_r), np.linalg.inv(e2g_r)
    rotation = (s2e_r.T @ se2g_r.T) @ (inv_e.T @ inv_l.T)  # points @ rotation + translation
    translation = (s2e_t @ se2g_r.T + se2g_t) @ (inv_e.T @ inv_l.T)
    translation -= e2g_t @ (inv_e.T @ inv_l.T) + l2e_t @ inv_l.T
    return sd, rotation.T, translation


def key_frame_poses(nusc, lidar_token: str) -> tuple:
    """The key frame's `(l2e_r, l2e_t, e2g_r, e2g_t)` as mmdet3d's converter builds them."""
    sd = nusc.get("sample_data", lidar_token)
    cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
    pose = nusc.get("ego_pose", sd["ego_pose_token"])
    return (
        Quaternion(cs["rotation"]).rotation_matrix,
        np.array(cs["translation"]),
        Quaternion(pose["rotation"]).rotation_matrix,
        np.array(pose["translation"]),
    )
