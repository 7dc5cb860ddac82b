"""0.x info files (mmdetection3d < 1.0, MIT HAN Lab's bevfusion): written from the synthetic world, loaded as v2."""

import pickle
import re
import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from nuscenes_helpers import info_boxes, key_frame_poses, load_infos, mmdet3d_sensor2lidar, run_create_data
from pyquaternion import Quaternion

from bevfusion.datasets import NuScenesDataset
from bevfusion.datasets.converters.box_layouts import VEHICLES
from bevfusion.datasets.converters.legacy_infos import read_info_file
from bevfusion.datasets.converters.nuscenes_infos import CAMERA_TYPES, CLASSES
from bevfusion.datasets.transforms import LoadMultiViewImageFromFiles, LoadPointsFromFile, LoadPointsFromMultiSweeps
from bevfusion.structures import CalibrationBundle, LiDARBoxes

DIALECTS = ["0.x", "0.x-mit"]
# mmdetection3d 0.x NuScenesDataset.NameMapping (MIT HAN Lab's is the same): category -> class.
NAME_MAPPING = {
    "movable_object.barrier": "barrier",
    "vehicle.bicycle": "bicycle",
    "vehicle.bus.bendy": "bus",
    "vehicle.bus.rigid": "bus",
    "vehicle.car": "car",
    "vehicle.construction": "construction_vehicle",
    "vehicle.motorcycle": "motorcycle",
    "human.pedestrian.adult": "pedestrian",
    "human.pedestrian.child": "pedestrian",
    "human.pedestrian.construction_worker": "pedestrian",
    "human.pedestrian.police_officer": "pedestrian",
    "movable_object.trafficcone": "traffic_cone",
    "vehicle.trailer": "trailer",
    "vehicle.truck": "truck",
}


def _load(path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


def _dump(obj, path):
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)
    return str(path)


def _pose(rotation, translation):
    matrix = np.eye(4)
    matrix[:3, :3] = Quaternion(rotation).rotation_matrix
    matrix[:3, 3] = translation
    return matrix


def _check_sensor(entry, nusc, sd_token, key):
    """One sweep or camera entry against mmdet3d's `obtain_sensor2top` on the devkit tables."""
    sd, rotation, translation = mmdet3d_sensor2lidar(nusc, sd_token, key)
    cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
    pose = nusc.get("ego_pose", sd["ego_pose_token"])
    assert entry["data_path"] == nusc.get_sample_data_path(sd_token)
    assert entry["sample_data_token"] == sd_token and entry["timestamp"] == sd["timestamp"]
    np.testing.assert_allclose(entry["sensor2lidar_rotation"], rotation, atol=1e-9)
    np.testing.assert_allclose(entry["sensor2lidar_translation"], translation, atol=1e-8)
    np.testing.assert_allclose(
        _pose(entry["sensor2ego_rotation"], entry["sensor2ego_translation"]),
        _pose(cs["rotation"], cs["translation"]),
        atol=1e-9,
    )
    np.testing.assert_allclose(
        _pose(entry["ego2global_rotation"], entry["ego2global_translation"]),
        _pose(pose["rotation"], pose["translation"]),
        atol=1e-7,
    )


@pytest.mark.parametrize("info_format", DIALECTS)
def test_written_file_holds_what_the_0x_converters_write(prepared, legacy_val_infos, nusc, info_format):
    """Field by field against `nuscenes_converter.py` of mmdetection3d 0.x / MIT HAN Lab, recomputed from the devkit."""
    legacy = _load(legacy_val_infos[info_format])
    assert legacy["metadata"] == {"version": "v1.0-mini"}
    assert [info["token"] for info in legacy["infos"]] == [
        info["token"] for info in load_infos(prepared, "val")["data_list"]
    ]
    intrinsic_key, other_key = ("camera_intrinsics", "cam_intrinsic")[:: 1 if info_format == "0.x-mit" else -1]
    sweeps_checked = 0
    for info in legacy["infos"]:
        sample = nusc.get("sample", info["token"])
        lidar_token = sample["data"]["LIDAR_TOP"]
        lidar_path, boxes, _ = nusc.get_sample_data(lidar_token)
        assert info["lidar_path"] == lidar_path and info["timestamp"] == sample["timestamp"]
        key = key_frame_poses(nusc, lidar_token)
        np.testing.assert_allclose(Quaternion(info["lidar2ego_rotation"]).rotation_matrix, key[0], atol=1e-12)
        np.testing.assert_allclose(info["lidar2ego_translation"], key[1], atol=1e-12)
        np.testing.assert_allclose(Quaternion(info["ego2global_rotation"]).rotation_matrix, key[2], atol=1e-12)
        np.testing.assert_allclose(info["ego2global_translation"], key[3], atol=1e-9)
        # "we need to convert rot to SECOND format": [centre, wlh, -yaw - pi/2] in the LiDAR frame.
        expected = np.array([[*b.center, *b.wlh, -b.orientation.yaw_pitch_roll[0] - np.pi / 2] for b in boxes])
        np.testing.assert_allclose(info["gt_boxes"][:, :6], expected[:, :6], atol=1e-5)
        yaw_gap = (info["gt_boxes"][:, 6] - expected[:, 6] + np.pi) % (2 * np.pi) - np.pi
        assert np.abs(yaw_gap).max() < 1e-5
        records = [nusc.get("sample_annotation", token) for token in sample["anns"]]
        assert info["gt_names"].tolist() == [NAME_MAPPING.get(r["category_name"], r["category_name"]) for r in records]
        velocity = np.array([[*nusc.box_velocity(token)[:2], 0.0] for token in sample["anns"]])
        velocity = velocity @ np.linalg.inv(key[2]).T @ np.linalg.inv(key[0]).T
        np.testing.assert_allclose(info["gt_velocity"], velocity[:, :2], atol=1e-5)
        np.testing.assert_array_equal(info["num_lidar_pts"], [r["num_lidar_pts"] for r in records])
        np.testing.assert_array_equal(info["num_radar_pts"], [r["num_radar_pts"] for r in records])
        np.testing.assert_array_equal(
            info["valid_flag"], [r["num_lidar_pts"] + r["num_radar_pts"] > 0 for r in records]
        )
        token = nusc.get("sample_data", lidar_token)["prev"]
        for sweep in info["sweeps"]:
            _check_sensor(sweep, nusc, token, key)
            token = nusc.get("sample_data", token)["prev"]
            sweeps_checked += 1
        assert len(info["sweeps"]) == 10 or not token
        assert list(info["cams"]) == list(CAMERA_TYPES)
        for camera, entry in info["cams"].items():
            _check_sensor(entry, nusc, sample["data"][camera], key)
            intrinsic = nusc.get(
                "calibrated_sensor", nusc.get("sample_data", sample["data"][camera])["calibrated_sensor_token"]
            )
            np.testing.assert_array_equal(entry[intrinsic_key], intrinsic["camera_intrinsic"])
            assert other_key not in entry
        location = nusc.get("log", nusc.get("scene", sample["scene_token"])["log_token"])["location"]
        assert info.get("location") == (location if info_format == "0.x-mit" else None)
    assert sweeps_checked > 20


def _lidar2img(results):
    cam2img, lidar2cam = torch.as_tensor(results["cam2img"]), torch.as_tensor(results["lidar2cam"])
    return CalibrationBundle.from_cameras(cam2img, lidar2cam).lidar2img


@pytest.mark.parametrize("info_format", DIALECTS)
def test_legacy_file_loads_like_the_v2_file_of_the_same_world(prepared, legacy_val_infos, info_format):
    pipeline = [
        LoadPointsFromFile(),
        LoadPointsFromMultiSweeps(sweeps_num=10, test_mode=True),
        LoadMultiViewImageFromFiles(),
    ]
    ours = NuScenesDataset(prepared.info["val"], data_root=prepared.root, pipeline=pipeline, test_mode=True)
    legacy = NuScenesDataset(legacy_val_infos[info_format], data_root=prepared.root, pipeline=pipeline, test_mode=True)
    assert len(ours) == len(legacy) == 6
    sweeps, boxes = 0, 0
    for index in range(len(ours)):
        mine, theirs = ours[index], legacy[index]
        assert mine["token"] == theirs["token"]
        assert [s["lidar_points"]["lidar_path"] for s in mine["lidar_sweeps"]] == [
            s["lidar_points"]["lidar_path"] for s in theirs["lidar_sweeps"]
        ]
        np.testing.assert_allclose(theirs["points"], mine["points"], atol=1e-5, rtol=0)
        torch.testing.assert_close(theirs["gt_bboxes_3d"].tensor, mine["gt_bboxes_3d"].tensor, atol=1e-5, rtol=0)
        assert mine["gt_bboxes_3d"].velocity.abs().max() > 0.5  # moving objects: velocities are compared too
        np.testing.assert_array_equal(theirs["gt_labels_3d"], mine["gt_labels_3d"])
        assert [image["img_path"] for image in theirs["images"].values()] == [
            image["img_path"] for image in mine["images"].values()
        ]
        torch.testing.assert_close(_lidar2img(theirs), _lidar2img(mine), atol=1e-6, rtol=0)
        sweeps += len(mine["lidar_sweeps"])
        boxes += len(mine["gt_labels_3d"])
    assert sweeps > 20 and boxes > 20


@pytest.mark.parametrize("info_format", DIALECTS)
def test_points_in_converted_boxes_equal_num_lidar_pts(prepared, legacy_val_infos, info_format):
    converted = read_info_file(legacy_val_infos[info_format], CLASSES)
    checked = 0
    for info in converted["data_list"]:
        path = f"{prepared.root}/samples/LIDAR_TOP/{info['lidar_points']['lidar_path']}"
        points = LoadPointsFromFile()({"lidar_points": {"lidar_path": path}})["points"]
        counts = info_boxes(info).points_in_boxes(torch.from_numpy(points)).sum(0).numpy()
        expected = np.array([instance["num_lidar_pts"] for instance in info["instances"]])
        np.testing.assert_array_equal(counts, expected)
        checked += int((expected > 0).sum())
    assert checked > 20


def test_class_subset_of_a_legacy_file_matches_the_v2_subset(prepared, legacy_val_infos):
    metainfo = {"classes": ["pedestrian", "car"]}
    ours = NuScenesDataset(prepared.info["val"], data_root=prepared.root, test_mode=True, metainfo=metainfo)
    with pytest.warns(UserWarning, match="outside the classes"):
        legacy = NuScenesDataset(legacy_val_infos["0.x"], data_root=prepared.root, test_mode=True, metainfo=metainfo)
    for index in range(len(ours)):
        mine, theirs = ours.get_data_info(index), legacy.get_data_info(index)
        np.testing.assert_array_equal(theirs["gt_labels_3d"], mine["gt_labels_3d"])
        torch.testing.assert_close(theirs["gt_bboxes_3d"].tensor, mine["gt_bboxes_3d"].tensor, atol=1e-5, rtol=0)


def _edited(legacy_val_infos, tmp_path, edit, info_format="0.x"):
    """A copy of the val file with `edit(sample)` applied to its second sample; returns (path, token)."""
    legacy = _load(legacy_val_infos[info_format])
    sample = legacy["infos"][1]
    edit(sample)
    return _dump(legacy, tmp_path / "edited_infos.pkl"), sample["token"]


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (lambda s: s.pop("lidar2ego_rotation"), "lidar2ego_rotation", "is missing"),
        (lambda s: s.pop("sweeps"), "sweeps", "is missing"),
        (lambda s: s["sweeps"][2].pop("sensor2lidar_translation"), "sweeps[2].sensor2lidar_translation", "is missing"),
        (lambda s: s["cams"]["CAM_BACK"].pop("cam_intrinsic"), "cams.CAM_BACK.cam_intrinsic", "is missing"),
        (lambda s: s.pop("valid_flag"), "valid_flag", "is missing"),
        (
            lambda s: s.update(gt_boxes=np.zeros((len(s["gt_boxes"]), 9))),
            "gt_boxes",
            r"has shape \(\d+, 9\), expected \(N, 7\)",
        ),
        (
            lambda s: s.update(gt_velocity=s["gt_velocity"][:-1]),
            "gt_velocity",
            r"has shape \(\d+, 2\), expected \(\d+, 2\)",
        ),
        (lambda s: s.update(timestamp="noon"), "timestamp", "is not an array of float64"),
    ],
)
def test_malformed_field_names_the_file_the_sample_and_the_field(
    prepared, legacy_val_infos, tmp_path, edit, field, problem
):
    path, token = _edited(legacy_val_infos, tmp_path, edit)
    with pytest.raises(ValueError, match=rf"edited_infos\.pkl: sample {token}: '{re.escape(field)}' {problem}"):
        NuScenesDataset(path, data_root=prepared.root, test_mode=True)


def test_names_outside_the_classes_are_ignored_instances_counted_in_one_warning(prepared, legacy_val_infos, tmp_path):
    """Real files hold names like static_object.bicycle_rack: kept with label -1, never training targets."""
    legacy = _load(legacy_val_infos["0.x"])
    renamed = Counter()
    for info in legacy["infos"]:
        names = info["gt_names"].astype(object)
        barriers = np.flatnonzero(names == "barrier")
        for index, new_name in zip(
            barriers[:3], ["static_object.bicycle_rack"] * 2 + ["movable_object.pushable_pullable"]
        ):
            names[index] = new_name
            renamed[new_name] += 1
        info["gt_names"] = names.astype(str)
    path = _dump(legacy, tmp_path / "renamed_infos.pkl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = NuScenesDataset(path, data_root=prepared.root, test_mode=True)
    messages = [str(w.message) for w in caught if "outside the classes" in str(w.message)]
    assert len(messages) == 1, messages
    total = sum(renamed.values())
    assert renamed["movable_object.pushable_pullable"] >= 1 and total > 6
    assert f"{total} boxes named outside the classes" in messages[0]
    assert f"static_object.bicycle_rack {renamed['static_object.bicycle_rack']}" in messages[0]
    assert f"movable_object.pushable_pullable {renamed['movable_object.pushable_pullable']}" in messages[0]
    with pytest.warns(UserWarning, match="outside the classes"):
        converted = read_info_file(path, CLASSES)
    ignored = [item for info in converted["data_list"] for item in info["instances"] if item["bbox_label_3d"] == -1]
    assert len(ignored) == total
    assert {converted["metainfo"]["categories"][name] for name in renamed} == {-1}
    plain = NuScenesDataset(legacy_val_infos["0.x"], data_root=prepared.root, test_mode=True)
    dropped = 0
    for index, info in enumerate(converted["data_list"]):
        labels = dataset.get_data_info(index)["gt_labels_3d"]
        assert (labels >= 0).all() and (dataset.get_cat_ids(index) == sorted(set(labels.tolist())))
        kept = [item for item in info["instances"] if item["bbox_3d_isvalid"] and item["bbox_label_3d"] >= 0]
        assert len(labels) == len(kept)
        dropped += len(plain.get_data_info(index)["gt_labels_3d"]) - len(labels)
    assert dropped == sum(item["bbox_3d_isvalid"] for item in ignored) > 0


def _rows_as_lwh(info):
    info["gt_boxes"] = LiDARBoxes.from_second_format(info["gt_boxes"]).tensor[:, :7].double().numpy()


def test_lwh_rows_of_mmdet3d_1_0_rc_files_are_told_apart(prepared, legacy_val_infos, tmp_path):
    """mmdetection3d 1.0.0rc* kept the 0.x layout but wrote `x y z l w h yaw`; `auto` reads both right."""
    legacy = _load(legacy_val_infos["0.x"])
    for info in legacy["infos"]:
        _rows_as_lwh(info)
    path = _dump(legacy, tmp_path / "rc_infos.pkl")
    ours = NuScenesDataset(prepared.info["val"], data_root=prepared.root, test_mode=True)
    rc = NuScenesDataset(path, data_root=prepared.root, test_mode=True)
    misread = NuScenesDataset(path, data_root=prepared.root, test_mode=True, legacy_box_format="second")
    for index in range(len(ours)):
        expected = ours.get_data_info(index)["gt_bboxes_3d"].tensor
        torch.testing.assert_close(rc.get_data_info(index)["gt_bboxes_3d"].tensor, expected, atol=1e-5, rtol=0)
        assert not torch.allclose(misread.get_data_info(index)["gt_bboxes_3d"].tensor, expected, atol=1e-2)


def test_rows_without_vehicles_need_the_layout_named(prepared, legacy_val_infos, tmp_path):
    legacy = _load(legacy_val_infos["0.x"])
    for info in legacy["infos"]:
        keep = ~np.isin(info["gt_names"], VEHICLES)
        for field in ("gt_boxes", "gt_names", "gt_velocity", "num_lidar_pts", "num_radar_pts", "valid_flag"):
            info[field] = info[field][keep]
    path = _dump(legacy, tmp_path / "no_vehicles_infos.pkl")
    with pytest.raises(ValueError, match=r"no_vehicles_infos\.pkl: cannot tell the box layout.*legacy_box_format"):
        NuScenesDataset(path, data_root=prepared.root, test_mode=True)
    named = NuScenesDataset(path, data_root=prepared.root, test_mode=True, legacy_box_format="second")
    assert sum(len(named.get_data_info(i)["gt_labels_3d"]) for i in range(len(named))) > 10


def test_update_rewrites_a_legacy_file_as_v2(prepared, legacy_val_infos, tmp_path):
    out = str(tmp_path / "updated_infos_val.pkl")
    run_create_data("update", legacy_val_infos["0.x-mit"], out)
    updated = _load(out)
    assert set(updated) == {"metainfo", "data_list"} and updated["metainfo"]["info_version"] == "1.1"
    ours = load_infos(prepared, "val")
    for theirs, mine in zip(updated["data_list"], ours["data_list"], strict=True):
        assert theirs["token"] == mine["token"]
        torch.testing.assert_close(info_boxes(theirs).tensor, info_boxes(mine).tensor, atol=1e-5, rtol=0)
        assert [i["bbox_label_3d"] for i in theirs["instances"]] == [i["bbox_label_3d"] for i in mine["instances"]]
        for camera, image in mine["images"].items():
            np.testing.assert_allclose(theirs["images"][camera]["lidar2cam"], image["lidar2cam"], atol=1e-9)
    with pytest.raises(SystemExit, match="exists"):
        run_create_data("update", legacy_val_infos["0.x-mit"], out)
    with pytest.raises(SystemExit, match="not a 0.x info file"):
        run_create_data("update", prepared.info["val"], str(tmp_path / "again.pkl"))


def test_unannotated_test_split_file_loads_without_boxes(prepared, legacy_val_infos, tmp_path):
    """0.x files of v1.0-test carry no `gt_*` fields at all."""
    legacy = _load(legacy_val_infos["0.x"])
    for info in legacy["infos"]:
        for field in ("gt_boxes", "gt_names", "gt_velocity", "num_lidar_pts", "num_radar_pts", "valid_flag"):
            info.pop(field)
    dataset = NuScenesDataset(_dump(legacy, tmp_path / "test_infos.pkl"), data_root=prepared.root, test_mode=True)
    assert len(dataset) == 6
    assert all(len(dataset.get_data_info(index)["gt_bboxes_3d"]) == 0 for index in range(len(dataset)))
