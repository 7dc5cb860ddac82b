"""NuScenesDataset, CBGS, create_data.py behaviour and the configured pipeline, on the synthetic set."""

import os
import pickle
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes_helpers import CREATE_DATA, SYNTHETIC_CONFIG, load_infos, mmdet3d_sensor2lidar
from pyquaternion import Quaternion

from bevfusion.datasets import CBGSDataset, NuScenesDataset
from bevfusion.datasets.converters.gt_database import create_gt_database
from bevfusion.datasets.converters.nuscenes_infos import CLASSES, split_scene_names
from bevfusion.datasets.transforms import LoadPointsFromFile, LoadPointsFromMultiSweeps, ObjectSample
from bevfusion.registry import DATASETS, MODELS, register_all_modules

MMDET3D_CLASSES = CLASSES  # mmdet3d's update_infos_to_v2 METAINFO order, which ours follows


def test_info_files_have_the_mmdet3d_v2_layout(prepared, nusc):
    infos = load_infos(prepared, "val")
    assert infos["metainfo"]["dataset"] == "nuscenes" and infos["metainfo"]["info_version"] == "1.1"
    assert infos["metainfo"]["version"] == "v1.0-mini"
    assert {name: infos["metainfo"]["categories"][name] for name in CLASSES} == {n: i for i, n in enumerate(CLASSES)}
    val_scenes = set(split_scene_names(nusc, "v1.0-mini")["val"])
    expected = [
        sample["token"] for sample in nusc.sample if nusc.get("scene", sample["scene_token"])["name"] in val_scenes
    ]
    assert [info["token"] for info in infos["data_list"]] == expected
    sample = infos["data_list"][1]
    assert {
        "sample_idx",
        "token",
        "timestamp",
        "ego2global",
        "lidar_points",
        "lidar_sweeps",
        "images",
        "instances",
    } <= set(sample)
    assert sample["lidar_points"]["num_pts_feats"] == 5 and "/" not in sample["lidar_points"]["lidar_path"]
    assert np.asarray(sample["lidar_points"]["lidar2ego"]).shape == (4, 4)
    sweeps = [info["lidar_sweeps"] for info in infos["data_list"]]
    assert max(len(s) for s in sweeps) == 10
    sweep = max(sweeps, key=len)[0]
    assert {"lidar_path", "lidar2ego", "lidar2sensor"} <= set(sweep["lidar_points"])
    assert {"timestamp", "ego2global", "sample_data_token"} <= set(sweep)
    assert len(sample["images"]) == 6
    camera = sample["images"]["CAM_FRONT"]
    assert np.asarray(camera["cam2img"]).shape == (3, 3) and np.asarray(camera["lidar2cam"]).shape == (4, 4)
    instance = sample["instances"][0]
    assert {"bbox_3d", "bbox_label", "bbox_label_3d", "bbox_3d_isvalid", "velocity", "num_lidar_pts"} <= set(instance)
    assert len(instance["bbox_3d"]) == 7 and len(instance["velocity"]) == 2


def test_rerun_keeps_finished_outputs_unless_overwrite(prepared, capsys):
    path = prepared.info["val"]
    os.utime(path, (1, 1))
    argv = sys.argv
    base = [
        "create_data.py",
        "nuscenes",
        "--root-path",
        prepared.root,
        "--version",
        "v1.0-mini",
        "--out-dir",
        prepared.out,
    ]
    try:
        sys.argv = base
        runpy.run_path(CREATE_DATA, run_name="__main__")
        assert os.path.getmtime(path) == 1
        assert "[skip]" in capsys.readouterr().out
        sys.argv = base + ["--overwrite", "--skip-gt-database"]
        runpy.run_path(CREATE_DATA, run_name="__main__")
    finally:
        sys.argv = argv
    assert os.path.getmtime(path) > 1
    assert not [name for name in os.listdir(prepared.out) if name.startswith(".tmp")]


def _mmdet3d_lidar2sensor(nusc, sd_token, key):
    """mmdet3d's `obtain_sensor2top` + `update_infos_to_v2`: the sample_data record and its `lidar2sensor`."""
    sd, rotation, translation = mmdet3d_sensor2lidar(nusc, sd_token, key)
    lidar2sensor = np.eye(4)
    lidar2sensor[:3, :3] = rotation.T
    lidar2sensor[:3, 3] = -rotation.T @ translation
    return sd, lidar2sensor.astype(np.float32).tolist()


def _mmdet3d_style_infos(nusc, our_infos):
    """Info dicts written the way mmdet3d's converter + update_infos_to_v2 do it, straight from the devkit.

    Sensor -> key-LiDAR rotations/translations are built from quaternions as mmdet3d does,
    boxes come from `get_sample_data` (LiDAR frame, `wlh` -> `lwh`, devkit yaw), velocities
    are rotated with the inverse ego and LiDAR rotations and keep NaN, sweep paths carry
    mmdet3d's `./data/nuscenes/` prefix and unmapped categories get label -1.
    """
    data_list, categories = [], {name: index for index, name in enumerate(MMDET3D_CLASSES)}
    for index, ours in enumerate(our_infos["data_list"]):
        sample = nusc.get("sample", ours["token"])
        lidar_token = sample["data"]["LIDAR_TOP"]
        lidar_sd = nusc.get("sample_data", lidar_token)
        cs = nusc.get("calibrated_sensor", lidar_sd["calibrated_sensor_token"])
        pose = nusc.get("ego_pose", lidar_sd["ego_pose_token"])
        l2e_r, e2g_r = Quaternion(cs["rotation"]).rotation_matrix, Quaternion(pose["rotation"]).rotation_matrix
        l2e_t, e2g_t = np.array(cs["translation"]), np.array(pose["translation"])
        key = (l2e_r, l2e_t, e2g_r, e2g_t)

        sweeps = []
        for ours_sweep in ours["lidar_sweeps"]:
            sd, lidar2sensor = _mmdet3d_lidar2sensor(nusc, ours_sweep["sample_data_token"], key)
            sweeps.append(
                {
                    "lidar_points": {"lidar_path": "./data/nuscenes/" + sd["filename"], "lidar2sensor": lidar2sensor},
                    "timestamp": sd["timestamp"] / 1e6,
                    "sample_data_token": sd["token"],
                }
            )
        images = {}
        for camera in ours["images"]:
            sd, lidar2cam = _mmdet3d_lidar2sensor(nusc, sample["data"][camera], key)
            intrinsic = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])["camera_intrinsic"]
            images[camera] = {
                "img_path": os.path.basename(sd["filename"]),
                "cam2img": intrinsic,
                "lidar2cam": lidar2cam,
            }
        _, boxes, _ = nusc.get_sample_data(lidar_token)
        instances = []
        for box in boxes:
            record = nusc.get("sample_annotation", box.token)
            name = category_to_detection_name(record["category_name"]) or record["category_name"]
            label = MMDET3D_CLASSES.index(name) if name in MMDET3D_CLASSES else -1
            if label < 0:
                categories[name] = -1
            velocity = (
                np.array([*nusc.box_velocity(box.token)[:2], 0.0]) @ np.linalg.inv(e2g_r).T @ np.linalg.inv(l2e_r).T
            )
            instances.append(
                {
                    "bbox_3d": [*box.center, *box.wlh[[1, 0, 2]], box.orientation.yaw_pitch_roll[0]],
                    "bbox_label": label,
                    "bbox_label_3d": label,
                    "velocity": velocity[:2].tolist(),
                    "num_lidar_pts": record["num_lidar_pts"],
                    "num_radar_pts": record["num_radar_pts"],
                    "bbox_3d_isvalid": record["num_lidar_pts"] + record["num_radar_pts"] > 0,
                }
            )
        data_list.append(
            {
                "sample_idx": index,
                "token": sample["token"],
                "timestamp": sample["timestamp"] / 1e6,
                "lidar_points": {"num_pts_feats": 5, "lidar_path": os.path.basename(lidar_sd["filename"])},
                "lidar_sweeps": sweeps,
                "images": images,
                "instances": instances,
                "cam_instances": {camera: [] for camera in images},
            }
        )
    metainfo = {"categories": categories, "dataset": "nuscenes", "version": "v1.0-mini", "info_version": "1.1"}
    return {"metainfo": metainfo, "data_list": data_list}


def test_mmdet3d_written_info_file_loads_with_the_same_samples(prepared, nusc, tmp_path):
    theirs_path = tmp_path / "mmdet3d_infos_val.pkl"
    with open(theirs_path, "wb") as handle:
        pickle.dump(_mmdet3d_style_infos(nusc, load_infos(prepared, "val")), handle)
    loaders = [LoadPointsFromFile(), LoadPointsFromMultiSweeps(sweeps_num=10, test_mode=True)]
    ours = NuScenesDataset(prepared.info["val"], data_root=prepared.root, pipeline=loaders, test_mode=True)
    theirs = NuScenesDataset(str(theirs_path), data_root=prepared.root, pipeline=loaders, test_mode=True)
    assert len(ours) == len(theirs) == len(load_infos(prepared, "val")["data_list"])
    for index in range(len(ours)):
        mine, other = ours[index], theirs[index]
        assert mine["token"] == other["token"]
        assert [s["lidar_points"]["lidar_path"] for s in mine["lidar_sweeps"]] == [
            s["lidar_points"]["lidar_path"] for s in other["lidar_sweeps"]
        ]
        assert all(os.path.isfile(s["lidar_points"]["lidar_path"]) for s in other["lidar_sweeps"])
        np.testing.assert_allclose(mine["points"], other["points"], atol=2e-3)
        torch.testing.assert_close(mine["gt_bboxes_3d"].tensor, other["gt_bboxes_3d"].tensor, atol=1e-4, rtol=0)
        np.testing.assert_array_equal(mine["gt_labels_3d"], other["gt_labels_3d"])
        for camera, image in mine["images"].items():
            assert image["img_path"] == other["images"][camera]["img_path"]
            np.testing.assert_allclose(image["lidar2cam"], other["images"][camera]["lidar2cam"], atol=1e-5)


def test_class_subset_remaps_labels_and_drops_the_rest(prepared):
    full = NuScenesDataset(prepared.info["val"], data_root=prepared.root, test_mode=True)
    subset = NuScenesDataset(
        prepared.info["val"], data_root=prepared.root, test_mode=True, metainfo={"classes": ["pedestrian", "car"]}
    )
    for index in range(len(full)):
        labels = full.get_data_info(index)["gt_labels_3d"]
        picked = subset.get_data_info(index)
        expected = [
            {"pedestrian": 0, "car": 1}[CLASSES[label]] for label in labels if CLASSES[label] in ("pedestrian", "car")
        ]
        np.testing.assert_array_equal(picked["gt_labels_3d"], expected)
        assert len(picked["gt_bboxes_3d"]) == len(expected)
    assert subset.metainfo["classes"] == ["pedestrian", "car"]


def test_valid_flag_controls_which_boxes_are_kept(prepared):
    infos = load_infos(prepared, "val")
    valid = NuScenesDataset(prepared.info["val"], data_root=prepared.root, test_mode=True, use_valid_flag=True)
    by_points = NuScenesDataset(prepared.info["val"], data_root=prepared.root, test_mode=True, use_valid_flag=False)
    for index, info in enumerate(infos["data_list"]):
        labelled = [item for item in info["instances"] if item["bbox_label_3d"] >= 0]
        assert len(valid.get_data_info(index)["gt_labels_3d"]) == sum(item["bbox_3d_isvalid"] for item in labelled)
        assert len(by_points.get_data_info(index)["gt_labels_3d"]) == sum(
            item["num_lidar_pts"] > 0 for item in labelled
        )


def test_cbgs_draws_each_class_equally_often(prepared):
    dataset = NuScenesDataset(prepared.info["val"], data_root=prepared.root, test_mode=False)
    cbgs = CBGSDataset(dataset, seed=0)
    per_class = {label: [i for i in range(len(dataset)) if label in dataset.get_cat_ids(i)] for label in range(10)}
    total = sum(len(indices) for indices in per_class.values())
    present = [label for label, indices in per_class.items() if indices]
    assert len(cbgs) == len(present) * int(total / 10)
    assert set(cbgs.sample_indices.tolist()) <= set(range(len(dataset)))
    assert cbgs[0]["token"] == dataset[int(cbgs.sample_indices[0])]["token"]


def test_gt_database_crops_match_their_boxes(prepared, tmp_path):
    db_path = create_gt_database(prepared.root, prepared.info["val"], str(tmp_path), sweeps_num=0)
    with open(db_path, "rb") as handle:
        database = pickle.load(handle)
    items = [item for items in database.values() for item in items]
    assert {item["name"] for item in items} == set(CLASSES)
    infos = load_infos(prepared, "val")["data_list"]
    for item in items[:40]:
        crop = np.fromfile(os.path.join(prepared.root, item["path"]), dtype=np.float32).reshape(-1, 5)
        assert len(crop) == item["num_points_in_gt"]
        instance = [
            i for i in infos[item["sample_idx"]]["instances"] if i["bbox_3d_isvalid"] and i["bbox_label_3d"] >= 0
        ]
        assert item["num_points_in_gt"] == instance[item["gt_idx"]]["num_lidar_pts"]
        half = np.linalg.norm(item["box3d_lidar"][3:6]) / 2
        assert (np.linalg.norm(crop[:, :3], axis=1) <= half + 1e-3).all()
    sampler = ObjectSample(db_path, prepared.root, list(CLASSES), sample_groups={name: 3 for name in CLASSES}, seed=0)
    dataset = NuScenesDataset(prepared.info["val"], data_root=prepared.root, pipeline=[LoadPointsFromFile(), sampler])
    results = dataset[0]
    assert len(results["gt_bboxes_3d"]) > len(dataset.get_data_info(0)["gt_bboxes_3d"])


def _config_dataset(prepared, split):
    register_all_modules()
    config = Config.fromfile(SYNTHETIC_CONFIG)
    loader = config.train_dataloader if split == "train" else config.test_dataloader
    cfg = loader.dataset.dataset if split == "train" else loader.dataset
    cfg.ann_file = prepared.info["val"]
    cfg.data_root = prepared.root
    cfg.test_mode = split != "train"
    for step in cfg.pipeline:
        if step["type"] == "ObjectSample":
            step["db_info_path"] = create_gt_database(prepared.root, prepared.info["val"], prepared.out + "/val_db", 0)
            step["data_root"] = prepared.root
    return DATASETS.build(cfg)


@pytest.mark.parametrize("split", ["train", "test"])
def test_configured_pipeline_batches_through_the_preprocessor(prepared, split):
    dataset = _config_dataset(prepared, split)
    batch = pseudo_collate([dataset[0], dataset[1]])
    preprocessor = MODELS.build(
        {
            "type": "BEVFusionDataPreprocessor",
            "voxelize": {
                "mode": "hard",
                "voxel_size": [0.6, 0.6, 0.4],
                "point_cloud_range": [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0],
                "max_num_points": 10,
                "max_voxels": 30000,
            },
        }
    )
    out = preprocessor(batch, training=split == "train")
    assert out["inputs"]["imgs"].shape == (2, 6, 3, 128, 352)
    assert out["inputs"]["calib"].lidar2img.shape == (2, 6, 4, 4)
    coors = out["inputs"]["voxels"]["coors"]
    assert set(coors[:, 0].tolist()) == {0, 1} and len(coors) > 1000
    for sample in out["data_samples"]:
        boxes = sample.gt_instances_3d.bboxes_3d
        assert len(boxes) == len(sample.gt_instances_3d.labels_3d)
        if split == "test":
            torch.testing.assert_close(sample.calib.lidar_aug, torch.eye(4, dtype=torch.float64))


def test_empty_point_cloud_gives_an_empty_valid_sample(prepared, tmp_path):
    empty = tmp_path / "empty.pcd.bin"
    empty.write_bytes(b"")
    dataset = _config_dataset(prepared, "test")
    results = dataset.get_data_info(0)
    results["lidar_points"]["lidar_path"] = str(empty)
    results["lidar_sweeps"] = []
    packed = dataset.pipeline(results)
    assert packed["inputs"]["points"].shape == (0, 5)
    preprocessor = MODELS.build(
        {
            "type": "BEVFusionDataPreprocessor",
            "voxelize": {
                "mode": "dynamic",
                "voxel_size": [0.6, 0.6, 0.4],
                "point_cloud_range": [-54, -54, -5, 54, 54, 3],
            },
        }
    )
    out = preprocessor(pseudo_collate([packed]))
    assert out["inputs"]["voxels"]["coors"].shape == (0, 4)
    assert out["inputs"]["imgs"].shape == (1, 6, 3, 128, 352)
