"""The submission NuScenesMetric writes: devkit-valid, global frame, attributes, limits, bad input."""

import json

import numpy as np
import pytest
import torch
from nuscenes.eval.common.loaders import load_prediction
from nuscenes.eval.detection.data_classes import DetectionBox
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.nuscenes import NuScenes
from pyquaternion import Quaternion

from bevfusion.evaluation import NuScenesMetric, motion_attribute
from bevfusion.structures import LiDARBoxes


def written_submission(root, dataset, samples, out, **kwargs) -> dict:
    """Run `samples` through a format-only metric; the submission JSON it wrote."""
    metric = NuScenesMetric(
        data_root=str(root), version="v1.0-mini", format_only=True, jsonfile_prefix=str(out), **kwargs
    )
    metric.dataset_meta = dataset.metainfo
    metric.process({}, samples)
    metric.evaluate(len(samples))
    return json.loads((out / "results_nusc.json").read_text())


def test_submission_is_the_devkits_annotations_in_the_global_frame(
    synthetic_nuscenes, val_dataset, prediction_samples, tmp_path
):
    samples = prediction_samples()
    submission = written_submission(synthetic_nuscenes, val_dataset, samples, tmp_path, modality={"use_camera": True})
    assert submission["meta"] == {
        "use_camera": True,
        "use_lidar": False,
        "use_radar": False,
        "use_map": False,
        "use_external": False,
    }
    predictions, _ = load_prediction(str(tmp_path / "results_nusc.json"), 500, DetectionBox)
    assert set(predictions.sample_tokens) == {sample.token for sample in samples}
    assert len(predictions.all) == sum(len(sample.gt_instances_3d.labels_3d) for sample in samples)
    nusc = NuScenes(version="v1.0-mini", dataroot=str(synthetic_nuscenes), verbose=False)
    for token in predictions.sample_tokens:
        annotations = [nusc.get("sample_annotation", ann) for ann in nusc.get("sample", token)["anns"]]
        centres = np.array([ann["translation"] for ann in annotations])
        for box in predictions[token]:
            nearest = annotations[int(np.argmin(np.linalg.norm(centres - box.translation, axis=1)))]
            assert np.allclose(box.translation, nearest["translation"], atol=1e-3)
            assert np.allclose(box.size, nearest["size"], atol=1e-4)
            assert Quaternion.absolute_distance(Quaternion(box.rotation), Quaternion(nearest["rotation"])) < 1e-4
            assert box.detection_name == category_to_detection_name(nearest["category_name"])
            velocity = nusc.box_velocity(nearest["token"])[:2]
            if not np.isnan(velocity).any():
                assert np.allclose(box.velocity, velocity, atol=1e-3)
                assert box.attribute_name == motion_attribute(box.detection_name, float(np.hypot(*velocity)))


@pytest.mark.parametrize(
    "name, speed, attribute",
    [
        ("car", 5.0, "vehicle.moving"),
        ("car", 0.1, "vehicle.parked"),
        ("truck", 0.0, "vehicle.parked"),
        ("bus", 0.2, "vehicle.stopped"),
        ("bus", 0.3, "vehicle.moving"),
        ("construction_vehicle", 1.0, "vehicle.moving"),
        ("trailer", 0.0, "vehicle.parked"),
        ("bicycle", 2.0, "cycle.with_rider"),
        ("motorcycle", 0.0, "cycle.without_rider"),
        ("pedestrian", 1.2, "pedestrian.moving"),
        ("pedestrian", 0.0, "pedestrian.standing"),
        ("barrier", 3.0, ""),
        ("traffic_cone", 0.0, ""),
    ],
)
def test_attribute_follows_class_and_speed(name, speed, attribute):
    assert motion_attribute(name, speed) == attribute


def test_attribute_of_an_unknown_class_is_an_error():
    with pytest.raises(ValueError, match="'van'"):
        motion_attribute("van", 1.0)


def test_at_most_the_devkits_box_limit_per_sample_best_scores_kept(
    synthetic_nuscenes, val_dataset, prediction_samples, tmp_path, mmengine_log
):
    scores = torch.rand(600, generator=torch.Generator().manual_seed(0))

    def crowded(boxes, labels):
        return LiDARBoxes(boxes.tensor[:1].repeat(600, 1)), labels[:1].repeat(600), scores

    submission = written_submission(synthetic_nuscenes, val_dataset, prediction_samples(crowded, [0]), tmp_path)
    kept = [box["detection_score"] for box in next(iter(submission["results"].values()))]
    assert len(kept) == 500
    assert min(kept) >= float(scores.sort(descending=True).values[499])
    assert "100 boxes dropped" in mmengine_log.messages()


def test_poses_come_from_the_info_file_when_the_metainfo_lacks_them(
    synthetic_nuscenes, val_dataset, val_info, prediction_samples, tmp_path
):
    reference = written_submission(synthetic_nuscenes, val_dataset, prediction_samples(), tmp_path / "meta")
    bare = [sample.to_dict() for sample in prediction_samples()]
    for sample in bare:
        del sample["lidar2ego"], sample["ego2global"]
    from_info = written_submission(synthetic_nuscenes, val_dataset, bare, tmp_path / "info", ann_file=val_info)
    assert from_info == reference
    with pytest.raises(KeyError, match="meta_keys"):
        written_submission(synthetic_nuscenes, val_dataset, bare, tmp_path / "none")


def _single_box_edit(column: int, value: float):
    def edit(boxes, labels):
        data = boxes.tensor[:1].clone()
        data[0, column] = value
        return LiDARBoxes(data), labels[:1], torch.ones(1)

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_single_box_edit(4, 0.0), "sizes"),
        (lambda boxes, labels: (boxes[:1], torch.tensor([10]), torch.ones(1)), "labels must index"),
        (lambda boxes, labels: (boxes[:1], labels[:1], torch.tensor([float("nan")])), "finite"),
    ],
)
def test_bad_predictions_name_the_sample_and_the_problem(
    synthetic_nuscenes, val_dataset, prediction_samples, tmp_path, edit, message
):
    samples = prediction_samples(edit, [0])
    with pytest.raises(ValueError, match=f"sample {samples[0].token}.*{message}"):
        written_submission(synthetic_nuscenes, val_dataset, samples, tmp_path)


def test_mismatched_prediction_lengths_are_an_error(synthetic_nuscenes, val_dataset, prediction_samples, tmp_path):
    sample = prediction_samples(indices=[0])[0].to_dict()
    sample["pred_instances_3d"]["scores_3d"] = sample["pred_instances_3d"]["scores_3d"][:1]
    with pytest.raises(ValueError, match="scores and .* labels; they must match"):
        written_submission(synthetic_nuscenes, val_dataset, [sample], tmp_path)


def test_classes_outside_nuscenes_are_an_error(synthetic_nuscenes, prediction_samples):
    metric = NuScenesMetric(data_root=str(synthetic_nuscenes), version="v1.0-mini")
    metric.dataset_meta = {"classes": ("car", "van")}
    with pytest.raises(ValueError, match=r"\['van'\]"):
        metric.process({}, prediction_samples(indices=[0]))
