"""BEVFusionDataPreprocessor: image batching and normalisation, calibration stacking, voxelization."""

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from bevfusion.datasets.transforms import Pack3DDetInputs
from bevfusion.registry import MODELS, register_all_modules
from bevfusion.structures import LiDARBoxes

VOXEL_SIZE = (0.5, 0.5, 1.0)
POINT_RANGE = (-10.0, -10.0, -3.0, 10.0, 10.0, 3.0)


def _packed(seed, num_points, cameras=2, size=(16, 24)):
    rng = np.random.default_rng(seed)
    points = np.concatenate([rng.uniform(-12, 12, (num_points, 2)), rng.uniform(-4, 4, (num_points, 1))], 1)
    points = np.concatenate([points, rng.uniform(0, 1, (num_points, 2))], 1).astype(np.float32)
    results = {
        "points": points,
        "img": [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(cameras)],
        "cam2img": np.tile(np.eye(4), (cameras, 1, 1)) * (seed + 1),
        "lidar2cam": np.tile(np.eye(4), (cameras, 1, 1)),
        "img_aug": np.tile(np.eye(4), (cameras, 1, 1)),
        "lidar_aug": np.eye(4),
        "gt_bboxes_3d": LiDARBoxes(torch.zeros(1, 9)),
        "gt_labels_3d": np.array([3]),
        "token": f"sample{seed}",
    }
    return Pack3DDetInputs()(results)


def _build(voxelize):
    register_all_modules()
    return MODELS.build({"type": "BEVFusionDataPreprocessor", "voxelize": voxelize})


def _expected_coords(points):
    low, size = np.array(POINT_RANGE[:3]), np.array(VOXEL_SIZE)
    xyz = points[:, :3].numpy().astype(np.float64)
    inside = ((xyz >= low) & (xyz < np.array(POINT_RANGE[3:]))).all(1)
    return inside, np.floor((xyz - low) / size).astype(np.int64)[:, ::-1]


def test_images_are_batched_and_normalised_and_calibration_stacked():
    batch = pseudo_collate([_packed(0, 100), _packed(1, 50)])
    out = _build(None)(batch)
    imgs = out["inputs"]["imgs"]
    assert imgs.shape == (2, 2, 3, 16, 24) and imgs.dtype == torch.float32
    raw = batch["inputs"]["img"][1][0, :, 3, 5].float()
    expected = (raw - torch.tensor([123.675, 116.28, 103.53])) / torch.tensor([58.395, 57.12, 57.375])
    torch.testing.assert_close(imgs[1, 0, :, 3, 5], expected)
    calib = out["inputs"]["calib"]
    assert calib.cam2img.shape == (2, 2, 4, 4) and calib.lidar_aug.shape == (2, 4, 4)
    assert calib.cam2img[1, 0, 0, 0] == 2.0
    assert [len(p) for p in out["inputs"]["points"]] == [100, 50]
    assert [s.token for s in out["data_samples"]] == ["sample0", "sample1"]
    assert "voxels" not in out["inputs"]


def test_hard_voxelization_prepends_batch_index():
    batch = pseudo_collate([_packed(0, 400), _packed(1, 300), _packed(2, 0)])
    preprocessor = _build(
        {
            "mode": "hard",
            "voxel_size": VOXEL_SIZE,
            "point_cloud_range": POINT_RANGE,
            "max_num_points": 4,
            "max_voxels": (500, 600),
        }
    )
    voxels = preprocessor(batch, training=True)["inputs"]["voxels"]
    coors = voxels["coors"]
    assert coors.dtype == torch.int32 and coors.shape[1] == 4
    assert voxels["voxels"].shape == (len(coors), 4, 5) and voxels["num_points"].shape == (len(coors),)
    for index, points in enumerate(batch["inputs"]["points"]):
        inside, expected = _expected_coords(points)
        mine = coors[coors[:, 0] == index, 1:].numpy()
        assert {tuple(row) for row in mine} == {tuple(row) for row in expected[inside]}
    assert voxels["num_points"].sum() <= sum(len(p) for p in batch["inputs"]["points"])


def test_dynamic_voxelization_keeps_every_in_range_point():
    batch = pseudo_collate([_packed(3, 300), _packed(4, 200)])
    preprocessor = _build({"mode": "dynamic", "voxel_size": VOXEL_SIZE, "point_cloud_range": POINT_RANGE})
    voxels = preprocessor(batch)["inputs"]["voxels"]
    offset = 0
    for index, points in enumerate(batch["inputs"]["points"]):
        inside, expected = _expected_coords(points)
        count = int(inside.sum())
        rows = voxels["coors"][offset : offset + count]
        assert (rows[:, 0] == index).all()
        np.testing.assert_array_equal(rows[:, 1:].numpy(), expected[inside])
        torch.testing.assert_close(voxels["voxels"][offset : offset + count], points[torch.from_numpy(inside)])
        offset += count
    assert offset == len(voxels["coors"]) and "num_points" not in voxels


def test_bad_voxelize_config_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        _build({"mode": "sparse", "voxel_size": VOXEL_SIZE, "point_cloud_range": POINT_RANGE})
    with pytest.raises(ValueError, match="missing keys"):
        _build({"mode": "hard", "voxel_size": VOXEL_SIZE})
