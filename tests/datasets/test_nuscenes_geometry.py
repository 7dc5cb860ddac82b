"""Geometric invariants on the synthetic nuScenes set, through the info files create_data.py wrote."""

import numpy as np
import pytest
import torch
from nuscenes.utils.geometry_utils import BoxVisibility, view_points
from nuscenes_helpers import all_instances_dataset, info_boxes, load_infos
from pyquaternion import Quaternion

from bevfusion.datasets import NuScenesDataset
from bevfusion.datasets.transforms import (
    GlobalRotScaleTrans,
    ImageAug3D,
    LoadMultiViewImageFromFiles,
    LoadPointsFromFile,
    LoadPointsFromMultiSweeps,
    Pack3DDetInputs,
    RandomFlip3D,
)
from bevfusion.structures import CalibrationBundle


def _devkit_pixels(nusc, camera_token, ann_tokens):
    """Devkit's own projection: boxes moved into the camera frame by get_sample_data, then view_points."""
    _, boxes, intrinsic = nusc.get_sample_data(camera_token, BoxVisibility.NONE, selected_anntokens=ann_tokens)
    corners = np.stack([box.corners() for box in boxes])  # (N, 3, 8) in the camera frame
    pixels = np.stack([view_points(c, intrinsic, normalize=True)[:2].T for c in corners])
    return pixels, corners[:, 2, :]


def _match_corners(ours, theirs):
    """Largest distance from each of our projected corners to the nearest devkit corner of the same box."""
    distance = np.linalg.norm(ours[:, :, None, :] - theirs[:, None, :, :], axis=-1)
    return distance.min(-1).max()


def test_points_inside_each_box_equal_num_lidar_pts(prepared):
    infos = load_infos(prepared, "val")
    checked = 0
    for info in infos["data_list"]:
        path = f"{prepared.root}/samples/LIDAR_TOP/{info['lidar_points']['lidar_path']}"
        points = LoadPointsFromFile()({"lidar_points": {"lidar_path": path}})["points"]
        counts = info_boxes(info).points_in_boxes(torch.from_numpy(points)).sum(0).numpy()
        expected = np.array([instance["num_lidar_pts"] for instance in info["instances"]])
        np.testing.assert_array_equal(counts, expected)
        checked += int((expected > 0).sum())
    assert checked > 20


def test_box_corners_project_like_the_devkit(prepared, nusc):
    infos = load_infos(prepared, "val")
    compared = 0
    for info in infos["data_list"]:
        sample = nusc.get("sample", info["token"])
        boxes = info_boxes(info, dtype=torch.float64)
        for image in info["images"].values():
            bundle = CalibrationBundle.from_cameras(
                torch.tensor(image["cam2img"])[None], torch.tensor(image["lidar2cam"])[None]
            )
            theirs, depth = _devkit_pixels(nusc, image["sample_data_token"], sample["anns"])
            # Boxes in view: every corner ahead of the camera and within the image.
            in_view = (depth > 1.0).all(1) & (np.abs(theirs - [800, 450]) < [800, 450]).all((1, 2))
            ours, _ = bundle.project(boxes.corners.reshape(-1, 3))
            ours = ours[0].reshape(len(boxes), 8, 2).numpy()
            if in_view.any():
                assert _match_corners(ours[in_view], theirs[in_view]) < 1e-3
                compared += int(in_view.sum())
    assert compared > 50


@pytest.mark.parametrize("seed", range(3))
def test_augmentations_are_undone_by_img_aug_and_lidar_aug(prepared, seed):
    dataset = all_instances_dataset(prepared, "val")
    pipeline = [
        LoadMultiViewImageFromFiles(),
        LoadPointsFromFile(),
        ImageAug3D((128, 352), (0.22, 0.3), (0.0, 0.1), (-10, 10), rand_flip=True, seed=seed),
        GlobalRotScaleTrans((-1.5, 1.5), (0.8, 1.2), (1.0, 1.0, 0.3), seed=seed),
        RandomFlip3D(0.5, 0.5, seed=seed),
        Pack3DDetInputs(),
    ]
    index = seed % len(dataset)
    original = dataset.get_data_info(index)
    results = dataset.get_data_info(index)
    for transform in pipeline:
        results = transform(results)
    sample = results["data_samples"]
    calib = sample.calib
    assert results["inputs"]["img"].shape == (6, 3, 128, 352)
    assert not torch.allclose(calib.lidar_aug, torch.eye(4, dtype=torch.float64))
    augmented_pixels, augmented_depth = calib.project(sample.gt_instances_3d.bboxes_3d.corners.reshape(-1, 3).double())
    undo_img = torch.linalg.inv(calib.img_aug)  # (N_cam, 4, 4) acting on (u*d, v*d, d, 1)
    homogeneous = torch.cat(
        [
            augmented_pixels * augmented_depth[..., None],
            augmented_depth[..., None],
            torch.ones_like(augmented_depth[..., None]),
        ],
        -1,
    )
    recovered = torch.einsum("cij,cpj->cpi", undo_img, homogeneous)
    recovered = recovered[..., :2] / recovered[..., 2:3]
    plain = CalibrationBundle.from_cameras(torch.as_tensor(calib.cam2img), torch.as_tensor(calib.lidar2cam))
    expected, depth = plain.project(original["gt_bboxes_3d"].corners.reshape(-1, 3).double())
    # A mirror reorders a box's corners, so corners are compared as per-box sets.
    num_boxes = len(original["gt_bboxes_3d"])
    recovered = recovered.reshape(6, num_boxes, 8, 2)
    expected, depth = expected.reshape(6, num_boxes, 8, 2), depth.reshape(6, num_boxes, 8)
    visible = (depth > 2.0).all(-1) & (torch.abs(expected - torch.tensor([800.0, 450.0])) < 800).all(-1).all(-1)
    assert visible.sum() > 10
    assert _match_corners(recovered[visible].numpy(), expected[visible].numpy()) < 2e-3


def _sweep2key(info, sweep):
    return np.linalg.inv(np.asarray(sweep["lidar_points"]["lidar2sensor"]))


def _grown(boxes, margin):
    grown = boxes.clone()
    grown.tensor[:, 3:6] += 2 * margin
    return grown


def _static_box_strays(points, boxes, sensor_origins, margin=0.05):
    """Per static box away from the sensors: (sweep points near it, those more than `margin` outside it).

    "Near" is within 0.3 m, above the box bottom + 0.2 m (not ground) and inside no other box.
    Boxes within 3 m of a sensor position are skipped: the ego car's own returns clutter them.
    """
    static = (boxes.velocity.norm(dim=1) < 1e-6) & (boxes.dims.min(1).values > 0.3)
    holds_sensor = _grown(boxes, 3.0).points_in_boxes(sensor_origins).any(0)
    chosen = torch.nonzero(static & ~holds_sensor)[:, 0]
    reach = boxes.dims[chosen].norm(dim=1) / 2 + 0.5
    close = (torch.cdist(points[:, :2], boxes.center[chosen, :2]) < reach).any(1)
    points = points[close]
    near = _grown(boxes, 0.3).points_in_boxes(points)
    snug = _grown(boxes, margin).points_in_boxes(points)
    snug_count = snug.sum(1)
    rows = []
    for index in chosen.tolist():
        bottom = boxes.tensor[index, 2] - boxes.tensor[index, 5] / 2
        in_other = (snug_count - snug[:, index].int()) > 0
        candidates = near[:, index] & (points[:, 2] > bottom + 0.2) & ~in_other
        rows.append((int(candidates.sum()), int((candidates & ~snug[:, index]).sum())))
    return rows


@pytest.mark.parametrize("info_format", ["v2", "0.x", "0.x-mit"])
def test_sweeps_of_static_objects_line_up_within_5cm(prepared, legacy_val_infos, info_format):
    """Sweep points near static boxes lie within 5 cm of them, as key-frame points do.

    Unannotated clutter (poles, the ego car) also lands near boxes, so the check is on the
    fraction of stray points over all static boxes; sweeps left in their own frames, the
    control, stray by metres once the ego has moved. It runs on the v2 file and on the 0.x
    files of both dialects.
    """
    dataset = all_instances_dataset(prepared, "val", ann_file=legacy_val_infos.get(info_format))
    loader = [LoadPointsFromFile(), LoadPointsFromMultiSweeps(sweeps_num=10, test_mode=True, remove_close=0.0)]
    aligned, naive = [], []
    for index in range(len(dataset)):
        results = dataset.get_data_info(index)
        if not results["lidar_sweeps"]:
            continue
        for transform in loader:
            results = transform(results)
        sweep2key = [np.linalg.inv(np.asarray(s["lidar_points"]["lidar2sensor"])) for s in results["lidar_sweeps"]]
        origins = torch.tensor(np.array([[0.0, 0.0, 0.0]] + [m[:3, 3] for m in sweep2key]), dtype=torch.float32)
        points = torch.from_numpy(results["points"])
        aligned.extend(_static_box_strays(points[points[:, 4] > 0], results["gt_bboxes_3d"], origins))
        oldest = results["lidar_sweeps"][-1]
        if np.linalg.norm(sweep2key[-1][:2, 3]) > 1.0:
            raw = torch.from_numpy(LoadPointsFromFile()({"lidar_points": oldest["lidar_points"]})["points"])
            naive.extend(_static_box_strays(raw, results["gt_bboxes_3d"], origins))
    aligned = np.array([row for row in aligned if row[0] >= 10])
    naive = np.array([row for row in naive if row[0] >= 10])
    assert len(aligned) >= 5 and len(naive) >= 1
    assert aligned[:, 1].sum() / aligned[:, 0].sum() < 0.02, aligned.sum(0)
    assert naive[:, 1].sum() / naive[:, 0].sum() > 0.1


def test_dataset_boxes_match_devkit_lidar_frame_boxes(prepared, nusc):
    dataset = NuScenesDataset(
        ann_file=prepared.info["val"], data_root=prepared.root, test_mode=True, use_valid_flag=True
    )
    classes = dataset.metainfo["classes"]
    from nuscenes.eval.detection.utils import category_to_detection_name

    compared = 0
    for index in range(len(dataset)):
        data = dataset.get_data_info(index)
        sample = nusc.get("sample", data["token"])
        lidar_token = sample["data"]["LIDAR_TOP"]
        _, devkit_boxes, _ = nusc.get_sample_data(lidar_token)
        kept = []
        for box in devkit_boxes:
            record = nusc.get("sample_annotation", box.token)
            name = category_to_detection_name(record["category_name"])
            if name in classes and record["num_lidar_pts"] + record["num_radar_pts"] > 0:
                kept.append((box, classes.index(name)))
        ours = data["gt_bboxes_3d"].tensor.double()
        assert len(ours) == len(kept)
        np.testing.assert_array_equal(data["gt_labels_3d"], [label for _, label in kept])
        lidar = nusc.get("calibrated_sensor", nusc.get("sample_data", lidar_token)["calibrated_sensor_token"])
        pose = nusc.get("ego_pose", nusc.get("sample_data", lidar_token)["ego_pose_token"])
        global2lidar = (Quaternion(pose["rotation"]) * Quaternion(lidar["rotation"])).inverse.rotation_matrix
        for row, (box, _) in zip(ours.numpy(), kept):
            np.testing.assert_allclose(row[:3], box.center, atol=1e-4)
            np.testing.assert_allclose(row[3:6], box.wlh[[1, 0, 2]], atol=1e-5)
            yaw_error = (row[6] - box.orientation.yaw_pitch_roll[0] + np.pi) % (2 * np.pi) - np.pi
            assert abs(yaw_error) < 1e-5
            velocity = np.nan_to_num(global2lidar @ nusc.box_velocity(box.token), nan=0.0)
            np.testing.assert_allclose(row[7:9], velocity[:2], atol=1e-4)
            compared += 1
    assert compared > 20
