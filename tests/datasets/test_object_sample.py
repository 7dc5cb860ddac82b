"""GT sampling: pasted objects bring their points and never overlap (checked with shapely)."""

import pickle

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from bevfusion.datasets.transforms import ObjectSample
from bevfusion.structures import LiDARBoxes


def _write_database(tmp_path, rng, classes):
    database = {name: [] for name in classes}
    for name in classes:
        for index in range(6):
            box = [rng.uniform(-30, 30), rng.uniform(-30, 30), 0.0, 4.0, 2.0, 1.5, rng.uniform(-3, 3), 1.0, 0.0]
            crop = np.concatenate([rng.uniform(-0.5, 0.5, (20, 3)), np.full((20, 1), 0.5), np.zeros((20, 1))], 1)
            crop = crop.astype(np.float32)
            path = f"db/{name}_{index}.bin"
            (tmp_path / "db").mkdir(exist_ok=True)
            crop.tofile(tmp_path / path)
            database[name].append(
                {"name": name, "path": path, "box3d_lidar": box, "num_points_in_gt": 20 if index else 2}
            )
    with open(tmp_path / "dbinfos.pkl", "wb") as handle:
        pickle.dump(database, handle)
    return database


@pytest.mark.parametrize("seed", range(3))
def test_object_sample_pastes_non_colliding_objects_with_their_points(tmp_path, seed):
    rng = np.random.default_rng(seed)
    classes = ["car", "pedestrian"]
    database = _write_database(tmp_path, rng, classes)
    existing = LiDARBoxes(torch.tensor([[0.0, 0.0, 0.0, 40.0, 3.0, 2.0, 0.0, 0.0, 0.0]]))
    scene_points = np.concatenate(
        [rng.uniform(-35, 35, (4000, 2)), rng.uniform(-1, 1, (4000, 1)), np.zeros((4000, 2))], 1
    )
    results = {
        "points": scene_points.astype(np.float32),
        "gt_bboxes_3d": existing,
        "gt_labels_3d": np.array([0]),
        "lidar_aug": np.eye(4),
    }
    sampler = ObjectSample(
        "dbinfos.pkl",
        str(tmp_path),
        classes,
        sample_groups={"car": 4, "pedestrian": 3},
        min_points={"car": 5},
        seed=seed,
    )
    results = sampler(results)
    boxes, labels = results["gt_bboxes_3d"], results["gt_labels_3d"]
    assert len(boxes) == len(labels) > 1
    assert (labels == 0).sum() <= 4 and (labels == 1).sum() <= 3
    footprints = [Polygon(corners) for corners in boxes.bev_corners.double().numpy()]
    for i, first in enumerate(footprints):
        for second in footprints[i + 1 :]:
            assert first.intersection(second).area < 1e-6
    pasted = boxes[1:]
    inside = pasted.points_in_boxes(torch.from_numpy(results["points"])).sum(0)
    torch.testing.assert_close(inside, torch.full((len(pasted),), 20))  # scene points there were removed
    low_point_items = {tuple(item["box3d_lidar"]) for item in database["car"] if item["num_points_in_gt"] < 5}
    assert not any(tuple(row) in low_point_items for row in pasted.tensor.double().tolist())


def test_object_sample_refuses_to_run_after_global_augmentation(tmp_path):
    _write_database(tmp_path, np.random.default_rng(0), ["car"])
    sampler = ObjectSample("dbinfos.pkl", str(tmp_path), ["car"], sample_groups={"car": 2})
    aug = np.eye(4)
    aug[0, 3] = 1.0
    results = {
        "points": np.zeros((0, 5), np.float32),
        "gt_bboxes_3d": LiDARBoxes([]),
        "gt_labels_3d": np.zeros(0, np.int64),
    }
    with pytest.raises(ValueError, match="before global LiDAR augmentation"):
        sampler({**results, "lidar_aug": aug})


def test_missing_database_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        ObjectSample("nope.pkl", str(tmp_path), ["car"], sample_groups={"car": 1})


def test_pasted_points_older_than_the_scene_sweeps_are_dropped(tmp_path):
    """A database cut with 10 sweeps pasted into a 5-sweep scene keeps only the trail the scene's objects have."""
    lags = np.repeat(np.arange(10) * 0.05, 8)  # 10 sweeps at 20 Hz, 8 points each
    crop = np.concatenate([np.random.default_rng(0).uniform(-0.5, 0.5, (80, 3)), np.ones((80, 1)), lags[:, None]], 1)
    (tmp_path / "db").mkdir()
    crop.astype(np.float32).tofile(tmp_path / "db" / "car.bin")
    item = {"name": "car", "path": "db/car.bin", "box3d_lidar": [10, 0, 0, 4, 2, 1.5, 0, 5, 0], "num_points_in_gt": 80}
    with open(tmp_path / "dbinfos.pkl", "wb") as handle:
        pickle.dump({"car": [item]}, handle)
    scene_lags = np.repeat(np.arange(5) * 0.05, 100)  # the key frame and 4 sweeps: up to 0.2 s
    scene_xyz = np.random.default_rng(1).uniform(-40, -20, (500, 3))
    scene = np.concatenate([scene_xyz, np.ones((500, 1)), scene_lags[:, None]], 1)
    results = {
        "points": scene.astype(np.float32),
        "gt_bboxes_3d": LiDARBoxes([]),
        "gt_labels_3d": np.zeros(0, np.int64),
        "lidar_aug": np.eye(4),
    }
    for time_dim, kept_lags in [(4, np.arange(5) * 0.05), (None, np.arange(10) * 0.05)]:
        sampler = ObjectSample("dbinfos.pkl", str(tmp_path), ["car"], sample_groups={"car": 1}, time_dim=time_dim)
        points = sampler(dict(results))["points"]
        pasted = points[points[:, 0] > 0]
        assert len(pasted) == 8 * len(kept_lags)
        np.testing.assert_allclose(np.unique(pasted[:, 4]), kept_lags, atol=1e-6)
        assert len(points) - len(pasted) == 500


def test_a_time_column_outside_the_used_columns_is_refused(tmp_path):
    _write_database(tmp_path, np.random.default_rng(0), ["car"])
    with pytest.raises(ValueError, match="time_dim 4 is not a column"):
        ObjectSample("dbinfos.pkl", str(tmp_path), ["car"], sample_groups={"car": 1}, use_dim=(0, 1, 2, 3))
