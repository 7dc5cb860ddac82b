"""Loading transforms: file errors name the file, bad points are dropped, sweeps land in the key frame."""

import cv2
import numpy as np
import pytest

from bevfusion.datasets.transforms import LoadMultiViewImageFromFiles, LoadPointsFromFile, LoadPointsFromMultiSweeps
from bevfusion.structures import rotation_z_matrix


def _write_points(path, points):
    np.asarray(points, dtype=np.float32).tofile(path)
    return str(path)


def test_size_not_multiple_of_five_floats_names_the_file(tmp_path):
    path = tmp_path / "broken.pcd.bin"
    np.arange(12, dtype=np.float32).tofile(path)
    with pytest.raises(ValueError, match=r"broken\.pcd\.bin.*not a multiple of 5 float32"):
        LoadPointsFromFile(load_dim=5)({"lidar_points": {"lidar_path": str(path)}})


def test_missing_point_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pcd.bin"):
        LoadPointsFromFile()({"lidar_points": {"lidar_path": str(tmp_path / "nowhere.pcd.bin")}})


def test_nan_and_inf_points_are_dropped_with_a_counted_warning(tmp_path):
    points = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32)
    points[2, 0] = np.nan
    points[7, 3] = np.inf
    path = _write_points(tmp_path / "bad.pcd.bin", points)
    with pytest.warns(UserWarning, match="dropped 2 points"):
        results = LoadPointsFromFile()({"lidar_points": {"lidar_path": path}})
    assert results["points"].shape == (8, 5)
    np.testing.assert_array_equal(results["points"], points[[0, 1, 3, 4, 5, 6, 8, 9]])


def test_empty_cloud_gives_an_empty_valid_array(tmp_path):
    path = _write_points(tmp_path / "empty.pcd.bin", np.zeros((0, 5)))
    results = LoadPointsFromFile(use_dim=[0, 1, 2, 3])({"lidar_points": {"lidar_path": path}})
    assert results["points"].shape == (0, 4) and results["points"].dtype == np.float32
    np.testing.assert_array_equal(results["lidar_aug"], np.eye(4))


def _sweep_results(tmp_path, sweep_points, sweep2key, lag=0.05, missing=False):
    key = _write_points(tmp_path / "key.pcd.bin", np.ones((3, 5)))
    path = str(tmp_path / "sweep.pcd.bin")
    if not missing:
        _write_points(path, sweep_points)
    results = LoadPointsFromFile()({"lidar_points": {"lidar_path": key}, "timestamp": 100.0, "token": "tok"})
    results["lidar_sweeps"] = [
        {
            "lidar_points": {"lidar_path": path, "lidar2sensor": np.linalg.inv(sweep2key).tolist()},
            "timestamp": 100.0 - lag,
        }
    ]
    return results


def test_sweeps_move_into_the_key_frame_with_time_lag(tmp_path):
    rng = np.random.default_rng(1)
    sweep_points = np.concatenate([rng.uniform(-20, 20, (50, 3)), rng.uniform(0, 1, (50, 2))], 1)
    sweep2key = rotation_z_matrix(0.3).numpy()
    sweep2key[:3, 3] = [1.5, -0.7, 0.1]
    results = _sweep_results(tmp_path, sweep_points, sweep2key)
    loaded = LoadPointsFromMultiSweeps(sweeps_num=1, remove_close=0.0)(results)["points"]
    assert loaded.shape == (53, 5)
    np.testing.assert_array_equal(loaded[:3, 4], 0.0)
    expected = sweep_points[:, :3] @ sweep2key[:3, :3].T + sweep2key[:3, 3]
    np.testing.assert_allclose(loaded[3:, :3], expected, atol=1e-4)
    np.testing.assert_allclose(loaded[3:, 3], sweep_points[:, 3], atol=1e-6)
    np.testing.assert_allclose(loaded[3:, 4], 0.05, atol=1e-5)


def test_missing_sweep_names_the_file_and_sample(tmp_path):
    results = _sweep_results(tmp_path, None, np.eye(4), missing=True)
    with pytest.raises(FileNotFoundError, match=r"sweep 0 of sample tok.*sweep\.pcd\.bin"):
        LoadPointsFromMultiSweeps(sweeps_num=1)(results)


def _camera_results(tmp_path, names):
    images = {}
    for name in names:
        images[name] = {
            "img_path": str(tmp_path / f"{name}.png"),
            "cam2img": [[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]],
            "lidar2cam": np.eye(4).tolist(),
        }
    return {"images": images, "token": "tok"}


def test_images_are_decoded_as_rgb_with_calibration(tmp_path):
    bgr = np.zeros((8, 10, 3), dtype=np.uint8)
    bgr[..., 0] = 255  # pure blue in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "CAM_A.png"), bgr)
    cv2.imwrite(str(tmp_path / "CAM_B.png"), bgr)
    results = LoadMultiViewImageFromFiles(camera_types=["CAM_A", "CAM_B"])(
        _camera_results(tmp_path, ["CAM_A", "CAM_B"])
    )
    assert len(results["img"]) == 2
    np.testing.assert_array_equal(results["img"][0][0, 0], [0, 0, 255])
    assert results["cam2img"].shape == (2, 4, 4) and results["cam2img"][0, 0, 2] == 320
    np.testing.assert_array_equal(results["img_aug"], np.tile(np.eye(4), (2, 1, 1)))


def test_missing_camera_file_names_the_file(tmp_path):
    cv2.imwrite(str(tmp_path / "CAM_A.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match=r"missing: .*CAM_B\.png \(CAM_B\)"):
        LoadMultiViewImageFromFiles(camera_types=["CAM_A", "CAM_B"])(_camera_results(tmp_path, ["CAM_A", "CAM_B"]))
