"""GT databases in mmdetection3d's and MIT HAN Lab's layouts paste the same objects at the same places as ours."""

import os
import pickle

import numpy as np
import pytest
import torch

from bevfusion.datasets import NuScenesDataset
from bevfusion.datasets.converters.gt_database import create_gt_database
from bevfusion.datasets.converters.nuscenes_infos import CLASSES
from bevfusion.datasets.transforms import LoadPointsFromFile, ObjectSample
from bevfusion.datasets.transforms.object_database import LAYOUT_KEY, load_object_database
from bevfusion.structures import LiDARBoxes


@pytest.fixture(scope="module")
def database(prepared, tmp_path_factory):
    """Our GT database of the val split (2 sweeps merged), written by create_gt_database."""
    out = tmp_path_factory.mktemp("gt_database")
    return create_gt_database(prepared.root, prepared.info["val"], str(out), sweeps_num=2)


def _load(path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


def _write_as(layout, root, database_path, out_root, marked=False):
    """Our database (crops under `root`) rewritten under `out_root` as `layout`'s writer stores it.

    Returns the new info file; its crop paths are relative to `out_root`. The writers differ in
    the box row, the crop's reference point and the item keys:

    mmdetection3d keeps LiDARInstance3DBoxes rows (z at the bottom; before 1.0 `w l h, -yaw-pi/2`)
    and crops relative to that bottom centre, under `image_idx`. MIT HAN Lab's dataset reads
    the gravity centre as the bottom, so its crops hold the points from z up to z + h only.
    """
    converted = {}
    os.makedirs(os.path.join(out_root, "gt_database"), exist_ok=True)
    for name, items in _load(database_path).items():
        converted[name] = []
        for item in items:
            row = np.asarray(item["box3d_lidar"], dtype=np.float64)
            crop = np.fromfile(os.path.join(root, item["path"]), dtype=np.float32).reshape(-1, 5)
            if layout in ("mmdet3d-v0", "mit-bevfusion"):
                row[:7] = LiDARBoxes(row[None]).to_second_format()[0]
            if layout in ("mmdet3d", "mmdet3d-v0"):
                row[2] -= row[5] / 2
                crop[:, 2] += np.float32(row[5] / 2)
            if layout == "mit-bevfusion":
                crop = crop[crop[:, 2] >= 0]
            path = os.path.join("gt_database", os.path.basename(item["path"]))
            crop.tofile(os.path.join(out_root, path))
            theirs = {
                "name": name,
                "path": path,
                "image_idx": item["sample_idx"],
                "gt_idx": item["gt_idx"],
                "box3d_lidar": row.astype(np.float32),
                "num_points_in_gt": len(crop),
                "difficulty": 0,
                "group_id": item["group_id"],
            }
            converted[name].append({**theirs, LAYOUT_KEY: layout} if marked else theirs)
    path = os.path.join(out_root, "dbinfos.pkl")
    with open(path, "wb") as handle:
        pickle.dump(converted, handle)
    return path


def _pasted(prepared, database_path, data_root, layout="auto", samples=6):
    """ObjectSample (fixed seed, no point threshold) on the first val samples: (boxes, points, boxes before) each."""
    sampler = ObjectSample(
        database_path,
        data_root,
        list(CLASSES),
        sample_groups={name: 8 for name in CLASSES},
        seed=0,
        database_layout=layout,
    )
    dataset = NuScenesDataset(prepared.info["val"], data_root=prepared.root, pipeline=[LoadPointsFromFile(), sampler])
    outputs = []
    for index in range(samples):
        results = dataset[index]
        outputs.append(
            (results["gt_bboxes_3d"].tensor, results["points"], len(dataset.get_data_info(index)["gt_labels_3d"]))
        )
    return outputs


def test_our_database_records_its_layout(database):
    items = [item for entries in _load(database).values() for item in entries]
    assert len(items) > 20 and {item[LAYOUT_KEY] for item in items} == {"bevfusion"}


@pytest.mark.parametrize(("layout", "auto"), [("mmdet3d", True), ("mmdet3d-v0", False)])
def test_mmdet3d_databases_paste_the_same_objects_at_the_same_places(prepared, database, tmp_path, layout, auto):
    theirs = _write_as(layout, prepared.root, database, tmp_path)
    expected = _pasted(prepared, database, prepared.root)
    got = _pasted(prepared, theirs, tmp_path, "auto" if auto else layout)
    pasted = 0
    for (boxes, points, existing), (their_boxes, their_points, _) in zip(expected, got):
        torch.testing.assert_close(their_boxes, boxes, atol=1e-5, rtol=0)
        np.testing.assert_allclose(their_points, points, atol=1e-5, rtol=0)
        pasted += len(boxes) - existing
    assert pasted > 10, pasted


def test_mit_database_pastes_its_upper_half_crops_in_the_right_boxes(prepared, database, tmp_path):
    theirs = _write_as("mit-bevfusion", prepared.root, database, tmp_path)
    expected = _pasted(prepared, database, prepared.root)
    got = _pasted(prepared, theirs, tmp_path, "mit-bevfusion")
    for (boxes, points, existing), (their_boxes, their_points, _) in zip(expected, got):
        torch.testing.assert_close(their_boxes, boxes, atol=1e-5, rtol=0)
        pasted = LiDARBoxes(boxes[existing:])
        upper = pasted.points_in_boxes(torch.from_numpy(points)) & (
            torch.from_numpy(points[:, 2:3]) >= pasted.center[:, 2]
        )
        lower = pasted.points_in_boxes(torch.from_numpy(points)).any(1) & ~upper.any(1)
        assert lower.sum() > 0
        kept = points[~lower.numpy()]
        np.testing.assert_allclose(
            their_points[np.lexsort(their_points.T[::-1])], kept[np.lexsort(kept.T[::-1])], atol=1e-5, rtol=0
        )


def test_pre_1_0_rows_without_a_layout_are_an_error_naming_both_writers(prepared, database, tmp_path):
    theirs = _write_as("mmdet3d-v0", prepared.root, database, tmp_path)
    with pytest.raises(ValueError, match=r"dbinfos\.pkl: pre-1\.0 box rows.*'mmdet3d-v0' or 'mit-bevfusion'"):
        ObjectSample(theirs, str(tmp_path), list(CLASSES), sample_groups={"car": 1})


def test_layout_detection(prepared, database, tmp_path):
    assert {name: len(items) for name, items in load_object_database(database).items()} == {
        name: len(items) for name, items in _load(database).items()
    }
    marked = _write_as("mmdet3d-v0", prepared.root, database, tmp_path, marked=True)
    for theirs, ours in zip(load_object_database(marked)["car"], load_object_database(database)["car"]):
        np.testing.assert_allclose(theirs["box3d_lidar"], ours["box3d_lidar"], atol=1e-5)
        assert theirs["crop_origin"][2] < ours["crop_origin"][2]  # their crops hang from the box bottom
    unmarked = _load(database)
    for items in unmarked.values():
        for item in items:
            item.pop(LAYOUT_KEY)
    path = tmp_path / "db_unmarked.pkl"
    with open(path, "wb") as handle:
        pickle.dump(unmarked, handle)
    np.testing.assert_allclose(
        [item["crop_origin"] for item in load_object_database(str(path))["car"]],
        [item["box3d_lidar"][:3] for item in unmarked["car"]],
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda db: db["car"][0].update(box3d_lidar=[0.0] * 8), r"class 'car': box3d_lidar has \[8, 9\] values"),
        (lambda db: db["car"][0].update({LAYOUT_KEY: "mmdet3d"}), r"items name the layouts \['bevfusion', 'mmdet3d'\]"),
        (lambda db: db.update(car="not a list"), "not a GT database"),
    ],
)
def test_malformed_database_is_an_error_naming_the_file(prepared, database, tmp_path, edit, message):
    broken = _load(database)
    edit(broken)
    path = tmp_path / "broken_dbinfos.pkl"
    with open(path, "wb") as handle:
        pickle.dump(broken, handle)
    with pytest.raises(ValueError, match=rf"broken_dbinfos\.pkl.*{message}|{message}"):
        load_object_database(str(path))
    with pytest.raises(ValueError, match="unknown GT database layout 'pcdet'"):
        load_object_database(database, "pcdet")
