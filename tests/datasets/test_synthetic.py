"""The synthetic nuScenes world through nuscenes-devkit: loading, rendering, geometry and the official metric."""

from __future__ import annotations

import hashlib
import json
import runpy
import sys
import warnings
from pathlib import Path

import matplotlib
import matplotlib.image
import matplotlib.pyplot
import numpy as np
import pytest
from nuscenes.eval.common.loaders import get_samples_of_custom_split
from nuscenes.eval.detection.config import config_factory
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.eval.detection.utils import detection_name_to_rel_attributes as rel_attributes
from nuscenes.nuscenes import NuScenes
from nuscenes.utils.data_classes import LidarPointCloud
from nuscenes.utils.geometry_utils import BoxVisibility, points_in_box, view_points
from nuscenes.utils.splits import create_splits_scenes
from pyquaternion import Quaternion

from bevfusion.datasets.synthetic import CUSTOM_VAL, SyntheticConfig, generate
from bevfusion.datasets.synthetic.camera import render_background
from bevfusion.datasets.synthetic.catalog import DETECTION_NAMES
from bevfusion.datasets.synthetic.generator import scene_world


@pytest.fixture(scope="module")
def nusc(synthetic_nuscenes) -> NuScenes:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return NuScenes(version="v1.0-mini", dataroot=str(synthetic_nuscenes), verbose=False)


def test_devkit_loads_and_links(nusc):
    assert [scene["name"] for scene in nusc.scene] == create_splits_scenes()["mini_val"]
    nusc.list_scenes()
    for scene in nusc.scene:
        samples = [nusc.get("sample", scene["first_sample_token"])]
        while samples[-1]["next"]:
            samples.append(nusc.get("sample", samples[-1]["next"]))
        assert samples[-1]["token"] == scene["last_sample_token"] and len(samples) == scene["nbr_samples"]
        assert all(b["timestamp"] - a["timestamp"] == 500_000 for a, b in zip(samples, samples[1:]))
        # LiDAR: 20 Hz, key frames every tenth sweep, doubly linked.
        lidar = [nusc.get("sample_data", samples[0]["data"]["LIDAR_TOP"])]
        while lidar[-1]["next"]:
            lidar.append(nusc.get("sample_data", lidar[-1]["next"]))
        assert len(lidar) == 10 * (len(samples) - 1) + 1
        assert all(
            b["timestamp"] - a["timestamp"] == 50_000 and b["prev"] == a["token"] for a, b in zip(lidar, lidar[1:])
        )
        assert [record["is_key_frame"] for record in lidar] == [index % 10 == 0 for index in range(len(lidar))]
        assert all((Path(nusc.dataroot) / record["filename"]).is_file() for record in lidar)
    for instance in nusc.instance:
        annotation = nusc.get("sample_annotation", instance["first_annotation_token"])
        count = 1
        while annotation["next"]:
            annotation = nusc.get("sample_annotation", annotation["next"])
            count += 1
        assert annotation["token"] == instance["last_annotation_token"] and count == instance["nbr_annotations"]


def test_rig_and_attributes_follow_nuscenes(nusc):
    lidar = next(c for c in nusc.calibrated_sensor if nusc.get("sensor", c["sensor_token"])["channel"] == "LIDAR_TOP")
    assert Quaternion(lidar["rotation"]).yaw_pitch_roll[0] == pytest.approx(-np.pi / 2)
    for annotation in nusc.sample_annotation:
        name = category_to_detection_name(annotation["category_name"])
        attributes = [nusc.get("attribute", token)["name"] for token in annotation["attribute_tokens"]]
        assert name is not None
        relevant = rel_attributes(name)  # the devkit's valid attributes; none for barrier and traffic_cone
        assert attributes == [] if not relevant else len(attributes) == 1 and attributes[0] in relevant
        if attributes == ["vehicle.moving"] and (annotation["prev"] or annotation["next"]):
            assert np.linalg.norm(nusc.box_velocity(annotation["token"])[:2]) > 0.5


def test_num_lidar_pts_matches_points_in_box(nusc):
    checked = 0
    for sample in nusc.sample:
        path, boxes, _ = nusc.get_sample_data(sample["data"]["LIDAR_TOP"])
        points = LidarPointCloud.from_file(path).points
        assert points.shape[0] == 4
        for box in boxes:
            expected = nusc.get("sample_annotation", box.token)["num_lidar_pts"]
            assert int(points_in_box(box, points[:3]).sum()) == expected
            checked += expected > 0
    assert checked > 20


def test_lidar_and_cameras_see_the_same_objects(nusc):
    """Objects near the ego that the cameras show fully are hit by the LiDAR (frames agree)."""
    seen, hit = 0, 0
    for annotation in nusc.sample_annotation:
        sample = nusc.get("sample", annotation["sample_token"])
        pose = nusc.get("ego_pose", nusc.get("sample_data", sample["data"]["LIDAR_TOP"])["ego_pose_token"])
        distance = np.hypot(*(np.array(annotation["translation"][:2]) - pose["translation"][:2]))
        if distance < 20 and annotation["visibility_token"] == "4":
            seen += 1
            hit += annotation["num_lidar_pts"] > 5
    assert seen >= 10 and hit >= 0.9 * seen


def test_points_have_nuscenes_layout(nusc):
    record = nusc.get("sample_data", nusc.sample[0]["data"]["LIDAR_TOP"])
    raw = np.fromfile(Path(nusc.dataroot) / record["filename"], dtype=np.float32).reshape(-1, 5)
    assert len(raw) > 10_000
    assert set(np.unique(raw[:, 4])) <= set(range(32)) and len(np.unique(raw[:, 4])) > 20
    assert raw[:, 3].min() >= 0 and raw[:, 3].max() <= 255
    # The ground around the car sits 1.84 m below the sensor: the lowest returns nearby.
    near = np.hypot(raw[:, 0], raw[:, 1]) < 10
    assert np.percentile(raw[near, 2], 10) == pytest.approx(-1.84, abs=0.05)


def test_boxes_project_onto_rendered_objects(nusc, synthetic_nuscenes):
    """Fully visible boxes, projected with the devkit, cover pixels that differ from the empty street."""
    # The world behind the fixture (seed 0) is re-sampled to render the empty street.
    config = SyntheticConfig(
        out=synthetic_nuscenes, scenes=len(nusc.scene), samples_per_scene=nusc.scene[0]["nbr_samples"]
    )
    checked = 0
    for scene_index, scene in enumerate(nusc.scene):
        world = scene_world(config, scene_index)
        sample = nusc.get("sample", scene["first_sample_token"])
        for channel in ("CAM_FRONT", "CAM_BACK", "CAM_FRONT_LEFT"):
            path, boxes, intrinsic = nusc.get_sample_data(sample["data"][channel], box_vis_level=BoxVisibility.ALL)
            record = nusc.get("sample_data", sample["data"][channel])
            image = np.asarray(matplotlib.image.imread(path), dtype=np.float32)
            empty = render_background(_cam2global(nusc, record), np.array(intrinsic), (1600, 900), world.layout)
            for box in boxes:
                annotation = nusc.get("sample_annotation", box.token)
                if annotation["visibility_token"] != "4":
                    continue
                corners = view_points(box.corners(), intrinsic, normalize=True)[:2]
                x0, y0 = np.floor(corners.min(1)).astype(int)
                x1, y1 = np.ceil(corners.max(1)).astype(int)
                inside = np.abs(image[y0:y1, x0:x1] - empty[y0:y1, x0:x1]).max(-1) > 40
                assert inside.mean() > 0.3, (channel, annotation["category_name"])
                checked += 1
    assert checked >= 5


def _cam2global(nusc: NuScenes, record: dict) -> np.ndarray:
    matrices = []
    for table, token in (
        ("ego_pose", record["ego_pose_token"]),
        ("calibrated_sensor", record["calibrated_sensor_token"]),
    ):
        row = nusc.get(table, token)
        matrix = np.eye(4)
        matrix[:3, :3] = Quaternion(row["rotation"]).rotation_matrix
        matrix[:3, 3] = row["translation"]
        matrices.append(matrix)
    return matrices[0] @ matrices[1]


def test_devkit_renders_camera_and_lidar(nusc, tmp_path):
    sample = nusc.sample[0]
    for channel in ("CAM_FRONT", "LIDAR_TOP"):
        out = tmp_path / f"{channel}.png"
        nusc.render_sample_data(sample["data"][channel], out_path=str(out), verbose=False)
        assert out.stat().st_size > 10_000
    matplotlib.pyplot.close("all")


def _submission(nusc: NuScenes, sample_tokens: list[str], jitter: float, path: Path) -> str:
    """The devkit's own annotations as a result file (boxes the metric keeps: with LiDAR points)."""
    rng = np.random.default_rng(0)
    results = {}
    for token in sample_tokens:
        boxes = []
        for annotation_token in nusc.get("sample", token)["anns"]:
            annotation = nusc.get("sample_annotation", annotation_token)
            if annotation["num_lidar_pts"] == 0:
                continue
            attributes = [nusc.get("attribute", t)["name"] for t in annotation["attribute_tokens"]]
            translation = np.array(annotation["translation"]) + rng.normal(0, jitter, 3) * [1, 1, 0]
            boxes.append(
                {
                    "sample_token": token,
                    "translation": translation.tolist(),
                    "size": annotation["size"],
                    "rotation": annotation["rotation"],
                    "velocity": nusc.box_velocity(annotation_token)[:2].tolist(),
                    "detection_name": category_to_detection_name(annotation["category_name"]),
                    "detection_score": 1.0,
                    "attribute_name": attributes[0] if attributes else "",
                }
            )
        results[token] = boxes
    meta = {"use_camera": True, "use_lidar": True, "use_radar": False, "use_map": False, "use_external": False}
    path.write_text(json.dumps({"meta": meta, "results": results}))
    return str(path)


@pytest.mark.parametrize("eval_set", ["mini_val", CUSTOM_VAL])
def test_ground_truth_scores_perfectly_and_jitter_does_not(nusc, tmp_path, eval_set):
    if eval_set == "mini_val":
        names = create_splits_scenes()["mini_val"]
        tokens = [s["token"] for s in nusc.sample if nusc.get("scene", s["scene_token"])["name"] in names]
    else:
        tokens = get_samples_of_custom_split(eval_set, nusc)
    scores = {}
    for jitter in (0.0, 0.6):
        result = _submission(nusc, tokens, jitter, tmp_path / f"results_{jitter}.json")
        evaluation = DetectionEval(
            nusc,
            config_factory("detection_cvpr_2019"),
            result,
            eval_set,
            str(tmp_path / f"eval_{jitter}"),
            verbose=False,
        )
        metrics, _ = evaluation.evaluate()
        scores[jitter] = metrics
        assert {box.detection_name for box in evaluation.gt_boxes.all} == set(DETECTION_NAMES)
    assert scores[0.0].mean_ap >= 0.99 and scores[0.0].nd_score >= 0.99
    assert scores[0.6].mean_ap < 0.9 and scores[0.6].nd_score < 0.9


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path, monkeypatch):
    """The command line and the API, run with one seed, write the same bytes; another seed changes them."""
    argv = ["create_synthetic_nuscenes.py", "--out", str(tmp_path / "cli"), "--scenes", "1", "--samples-per-scene", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--seed", "3"])
    runpy.run_path("tools/create_synthetic_nuscenes.py", run_name="__main__")
    for name, seed in (("api", 3), ("other", 4)):
        generate(SyntheticConfig(out=tmp_path / name, scenes=1, samples_per_scene=1, seed=seed), progress=False)
    digests = {name: _digest(tmp_path / name) for name in ("cli", "api", "other")}
    assert len(digests["cli"]) == 14 + 1 + 1 + 6  # 13 tables and splits.json, a map, a LiDAR sweep, six images
    assert digests["cli"] == digests["api"]
    assert digests["other"] != digests["api"]


@pytest.mark.parametrize("field, value", [("scenes", 0), ("samples_per_scene", 0), ("workers", 0), ("version", "mini")])
def test_bad_config_is_rejected(tmp_path, field, value):
    with pytest.raises(ValueError, match=field):
        SyntheticConfig(out=tmp_path, **{field: value})


def test_command_line_reports_bad_values(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["create_synthetic_nuscenes.py", "--scenes", "0"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path("tools/create_synthetic_nuscenes.py", run_name="__main__")
    assert exit_info.value.code == 2
    assert "scenes must be at least 1, got 0" in capsys.readouterr().err
