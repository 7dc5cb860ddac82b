"""Flat and relocated data layouts: paths in info files resolve through the data root and prefixes everywhere."""

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from nuscenes_helpers import run_create_data

from bevfusion.datasets import NuScenesDataset
from bevfusion.datasets.converters.gt_database import create_gt_database
from bevfusion.datasets.converters.nuscenes_infos import CAMERA_TYPES
from bevfusion.datasets.transforms import LoadMultiViewImageFromFiles, LoadPointsFromFile, LoadPointsFromMultiSweeps

FLAT_PREFIX = {"pts": "lidar", "sweeps": "lidar", **{camera: "cams" for camera in CAMERA_TYPES}}


@pytest.fixture(scope="module")
def flat_root(synthetic_nuscenes, tmp_path_factory) -> Path:
    """The synthetic world as a flat layout: every LiDAR file in `lidar/`, every image in `cams/` (links).

    Its tables put both scenes in a custom train split, so `create_data.py` writes a GT
    database from them.
    """
    source = Path(synthetic_nuscenes)
    flat = tmp_path_factory.mktemp("workdir") / "flat"
    for folder, pattern in (("lidar", "s*/LIDAR_TOP/*.pcd.bin"), ("cams", "samples/CAM_*/*.jpg")):
        (flat / folder).mkdir(parents=True)
        for path in source.glob(pattern):
            (flat / folder / path.name).symlink_to(path)
    (flat / "maps").symlink_to(source / "maps")  # the devkit opens the map masks with its tables
    tables = flat / "v1.0-mini"
    tables.mkdir()
    for table in (source / "v1.0-mini").glob("*.json"):
        (tables / table.name).symlink_to(table)
    (tables / "splits.json").unlink()
    scenes = [scene["name"] for scene in json.loads((source / "v1.0-mini" / "scene.json").read_text())]
    (tables / "splits.json").write_text(json.dumps({"synthetic_train": scenes, "synthetic_val": []}))
    return flat


def _points_and_images(dataset, index):
    pipeline = [LoadPointsFromFile(), LoadPointsFromMultiSweeps(sweeps_num=10, test_mode=True)]
    results = dataset.get_data_info(index)
    for transform in pipeline:
        results = transform(results)
    return results["points"], [image["img_path"] for image in results["images"].values()]


@pytest.mark.parametrize("info_format", ["v2", "0.x"])
def test_relocated_info_file_loads_from_a_flat_layout(prepared, legacy_val_infos, flat_root, info_format):
    """The info files name the original root's folders; only the file names count."""
    ann_file = legacy_val_infos.get(info_format, prepared.info["val"])
    standard = NuScenesDataset(ann_file, data_root=prepared.root, test_mode=True)
    flat = NuScenesDataset(ann_file, data_root=str(flat_root), data_prefix=FLAT_PREFIX, test_mode=True)
    for index in range(len(standard)):
        points, _ = _points_and_images(standard, index)
        flat_points, images = _points_and_images(flat, index)
        np.testing.assert_array_equal(flat_points, points)
        assert all(path.startswith(f"{flat_root}/cams/") for path in images)
    images = LoadMultiViewImageFromFiles()(flat.get_data_info(0))["img"]
    assert len(images) == 6 and images[0].shape == (900, 1600, 3)


def test_create_data_with_relative_paths_and_a_flat_layout(prepared, flat_root, tmp_path, monkeypatch):
    """`create_data.py` run from another folder with relative paths; the GT database reads the flat folders."""
    monkeypatch.chdir(flat_root.parent)
    prefix = [f"{key}={folder}" for key, folder in FLAT_PREFIX.items()]
    run_create_data(
        "nuscenes", "--root-path", "flat", "--version", "v1.0-mini", "--out-dir", "out", "--db-sweeps", "2",
        "--data-prefix", *prefix,
    )  # fmt: skip
    with open("out/nuscenes_dbinfos_train.pkl", "rb") as handle:
        flat_db = pickle.load(handle)
    reference = create_gt_database(prepared.root, prepared.info["val"], str(tmp_path), sweeps_num=2)
    with open(reference, "rb") as handle:
        standard_db = pickle.load(handle)
    pairs = [(a, b) for name in standard_db for a, b in zip(flat_db[name], standard_db[name], strict=True)]
    assert len(pairs) > 20
    for flat_item, item in pairs:
        assert flat_item["path"].startswith("../out/nuscenes_gt_database/")
        assert {k: v for k, v in flat_item.items() if k != "path"} == {k: v for k, v in item.items() if k != "path"}
        flat_crop = (flat_root / flat_item["path"]).read_bytes()
        assert flat_crop == Path(prepared.root, item["path"]).read_bytes()


def test_sweep_paths_under_a_folder_named_samples_stay_sweeps(prepared):
    """Only `samples/<sensor>/<file>` marks an earlier key frame, not a `samples` folder higher up the path."""
    dataset = NuScenesDataset(prepared.info["val"], data_root=prepared.root, test_mode=True)
    sweeps = [
        {"lidar_points": {"lidar_path": "/data/samples/nuscenes/sweeps/LIDAR_TOP/a.pcd.bin"}},
        {"lidar_points": {"lidar_path": "./data/nuscenes/samples/LIDAR_TOP/b.pcd.bin"}},
    ]
    parsed = dataset.parse_data_info({"lidar_points": {"lidar_path": "k.pcd.bin"}, "lidar_sweeps": sweeps})
    assert [sweep["lidar_points"]["lidar_path"] for sweep in parsed["lidar_sweeps"]] == [
        os.path.join(dataset.data_prefix["sweeps"], "a.pcd.bin"),
        os.path.join(dataset.data_prefix["pts"], "b.pcd.bin"),
    ]
