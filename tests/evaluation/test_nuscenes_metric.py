"""NuScenesMetric end to end on the synthetic mini_val: submission, devkit evaluation, figures."""

import json
import math
import os

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.constants import TP_METRICS
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.nuscenes import NuScenes

from bevfusion.evaluation import NuScenesMetric
from bevfusion.registry import register_all_modules

PREFIX = "NuScenes metric/"
TP_NAMES = ("mATE", "mASE", "mAOE", "mAVE", "mAAE")


def make_metric(root, **kwargs) -> NuScenesMetric:
    return NuScenesMetric(data_root=str(root), version="v1.0-mini", **kwargs)


def evaluate(metric: NuScenesMetric, samples, dataset) -> dict:
    """Run the metric the way mmengine's loop does (samples reach it as dicts); prefix stripped."""
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dataset.metainfo
    evaluator.process(samples)
    results = evaluator.evaluate(len(samples))
    assert all(key.startswith(PREFIX) for key in results)
    return {key[len(PREFIX) :]: value for key, value in results.items()}


def shifted(offset):
    def edit(boxes, labels):
        return boxes.translate(offset), labels, torch.ones(len(labels))

    return edit


def test_ground_truth_as_predictions_scores_one(synthetic_nuscenes, val_dataset, prediction_samples, tmp_path):
    metrics = evaluate(
        make_metric(synthetic_nuscenes, jsonfile_prefix=str(tmp_path)), prediction_samples(), val_dataset
    )
    assert metrics["mAP"] == pytest.approx(1.0, abs=1e-6)
    # Boxes travel as float32 LiDAR-frame tensors: micrometre-level TP errors are all that is left.
    assert metrics["NDS"] == pytest.approx(1.0, abs=1e-6)
    for name in TP_NAMES:
        assert metrics[name] == pytest.approx(0.0, abs=1e-5), name
    for name in val_dataset.metainfo["classes"]:
        assert metrics[f"{name}_AP"] == pytest.approx(1.0, abs=1e-6)
        for threshold in (0.5, 1.0, 2.0, 4.0):
            assert metrics[f"{name}_AP_dist_{threshold}"] == pytest.approx(1.0, abs=1e-6)
    # The devkit leaves orientation, velocity and attribute of cones (and velocity and attribute of barriers) undefined.
    assert math.isnan(metrics["traffic_cone_orient_err"]) and math.isnan(metrics["barrier_vel_err"])
    assert metrics["barrier_orient_err"] == pytest.approx(0.0, abs=1e-5)
    summary = json.loads((tmp_path / "metrics_summary.json").read_text())
    assert summary["mean_ap"] == pytest.approx(metrics["mAP"])
    assert summary["eval"] == {"version": "v1.0-mini", "eval_set": "mini_val", "num_samples": 6, "num_split_samples": 6}


def test_the_figures_are_the_devkits_on_the_whole_split(synthetic_nuscenes, val_dataset, prediction_samples, tmp_path):
    """Noisy, partly missing and partly spurious predictions: our numbers equal the stock DetectionEval's."""
    generator = torch.Generator().manual_seed(0)

    def noisy(boxes, labels):
        data = boxes.tensor.clone()
        data[:, :2] += torch.randn(len(data), 2, generator=generator) * 0.8
        data[:, 3:6] *= 1 + 0.2 * torch.rand(len(data), 3, generator=generator)
        data[:, 6] += torch.randn(len(data), generator=generator) * 0.3
        data[:, 7:9] += torch.randn(len(data), 2, generator=generator)
        keep = torch.rand(len(data), generator=generator) > 0.2
        spurious = data[:3].clone()
        spurious[:, :2] += 15.0
        data = torch.cat([data[keep], spurious])
        labels = torch.cat([labels[keep], labels[:3]])
        return type(boxes)(data), labels, torch.rand(len(data), generator=generator)

    ours = evaluate(
        make_metric(synthetic_nuscenes, jsonfile_prefix=str(tmp_path)), prediction_samples(noisy), val_dataset
    )
    nusc = NuScenes(version="v1.0-mini", dataroot=str(synthetic_nuscenes), verbose=False)
    official = DetectionEval(
        nusc,
        config_factory("detection_cvpr_2019"),
        str(tmp_path / "results_nusc.json"),
        "mini_val",
        str(tmp_path / "official"),
        verbose=False,
    )
    metrics, _ = official.evaluate()
    assert 0.2 < ours["mAP"] < 0.9
    assert ours["mAP"] == metrics.mean_ap and ours["NDS"] == metrics.nd_score
    for name in val_dataset.metainfo["classes"]:
        assert ours[f"{name}_AP"] == metrics.mean_dist_aps[name]
        for metric_name in TP_METRICS:
            np.testing.assert_equal(ours[f"{name}_{metric_name}"], metrics.get_label_tp(name, metric_name))


def test_offset_of_three_quarter_metre_is_the_translation_error(synthetic_nuscenes, val_dataset, prediction_samples):
    metrics = evaluate(make_metric(synthetic_nuscenes), prediction_samples(shifted([0.45, -0.6, 0.0])), val_dataset)
    assert metrics["mATE"] == pytest.approx(0.75, abs=1e-4)
    assert metrics["mASE"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["mAOE"] == pytest.approx(0.0, abs=1e-5)
    # Every box is 0.75 m off: no match at the 0.5 m threshold, all at 1, 2 and 4 m (up to a few
    # shifted pedestrians that land nearer a neighbour of their group than their own box).
    assert metrics["mAP"] == pytest.approx(0.75, abs=0.01)


def test_three_metre_offset_drops_map(synthetic_nuscenes, val_dataset, prediction_samples):
    metrics = evaluate(make_metric(synthetic_nuscenes), prediction_samples(shifted([3.0, 0.0, 0.0])), val_dataset)
    # Only the 4 m threshold still matches; TP errors are taken at 2 m, where nothing matches.
    assert 0.15 < metrics["mAP"] < 0.3
    assert metrics["mATE"] == 1.0
    assert metrics["NDS"] < 0.2


def test_dropping_one_class_zeroes_exactly_its_ap(synthetic_nuscenes, val_dataset, prediction_samples):
    classes = val_dataset.metainfo["classes"]
    bus = classes.index("bus")

    def without_bus(boxes, labels):
        keep = labels != bus
        return boxes[keep], labels[keep], torch.ones(int(keep.sum()))

    metrics = evaluate(make_metric(synthetic_nuscenes), prediction_samples(without_bus), val_dataset)
    assert metrics["bus_AP"] == 0.0
    for name in classes:
        if name != "bus":
            assert metrics[f"{name}_AP"] == pytest.approx(1.0, abs=1e-6), name
    assert metrics["mAP"] == pytest.approx(0.9, abs=1e-6)


def test_empty_submission_gives_zeros_and_a_warning(synthetic_nuscenes, val_dataset, prediction_samples, mmengine_log):
    def nothing(boxes, labels):
        return boxes[labels < 0], labels[labels < 0], torch.ones(0)

    metrics = evaluate(make_metric(synthetic_nuscenes), prediction_samples(nothing), val_dataset)
    assert metrics["mAP"] == 0.0 and metrics["NDS"] == 0.0
    for name in TP_NAMES:
        assert metrics[name] == 1.0
    assert "no box at all" in mmengine_log.messages()


def test_a_subset_of_the_split_is_evaluated_on_its_own_ground_truth(
    synthetic_nuscenes, val_dataset, prediction_samples, tmp_path, mmengine_log
):
    """Data samples handed over directly (not as dicts), for two of the six samples."""
    metric = make_metric(synthetic_nuscenes, jsonfile_prefix=str(tmp_path))
    metric.dataset_meta = val_dataset.metainfo
    metric.process({}, prediction_samples(indices=[1, 4]))
    metrics = metric.evaluate(2)
    assert metrics[PREFIX + "mAP"] == pytest.approx(1.0, abs=1e-6)
    assert "2 of the 6 samples" in mmengine_log.messages()
    summary = json.loads((tmp_path / "metrics_summary.json").read_text())
    assert (summary["eval"]["num_samples"], summary["eval"]["num_split_samples"]) == (2, 6)


def test_a_custom_split_from_splits_json(synthetic_nuscenes, val_dataset, prediction_samples):
    metric = make_metric(synthetic_nuscenes, eval_set="synthetic_val")
    metrics = evaluate(metric, prediction_samples(shifted([3.0, 0.0, 0.0])), val_dataset)
    reference = evaluate(make_metric(synthetic_nuscenes), prediction_samples(shifted([3.0, 0.0, 0.0])), val_dataset)
    assert metrics == reference


def test_samples_outside_the_split_are_an_error(synthetic_nuscenes, val_dataset, prediction_samples):
    with pytest.raises(ValueError, match="not in split 'mini_train'"):
        evaluate(make_metric(synthetic_nuscenes, eval_set="mini_train"), prediction_samples(), val_dataset)


def test_format_only_writes_the_submission(synthetic_nuscenes, val_dataset, prediction_samples, tmp_path):
    out = tmp_path / "submission"
    assert (
        evaluate(
            make_metric(synthetic_nuscenes, format_only=True, jsonfile_prefix=str(out)),
            prediction_samples(),
            val_dataset,
        )
        == {}
    )
    assert sorted(os.listdir(out)) == ["results_nusc.json"]


def test_a_config_builds_it_as_the_runner_does(synthetic_nuscenes):
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope("bevfusion"):
        evaluator = Evaluator(dict(type="NuScenesMetric", data_root=str(synthetic_nuscenes), version="v1.0-mini"))
    (metric,) = evaluator.metrics
    assert isinstance(metric, NuScenesMetric) and metric.eval_set == "mini_val"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(version="v1.0-trainval"), FileNotFoundError, "no nuScenes tables"),
        (dict(eval_set="val"), ValueError, "belongs to v1.0-trainval"),
        (dict(eval_set="no_such_split"), ValueError, "not in .*splits.json"),
        (dict(eval_set="test"), ValueError, "format_only"),
        (dict(format_only=True), ValueError, "jsonfile_prefix"),
        (dict(eval_config="detection_2077"), ValueError, "eval_config"),
        (dict(ann_file="/nonexistent/infos.pkl"), FileNotFoundError, "info file not found"),
        (dict(modality=dict(use_sonar=True)), ValueError, "use_sonar"),
    ],
)
def test_bad_arguments_are_named(synthetic_nuscenes, kwargs, error, message):
    kwargs = {"version": "v1.0-mini", **kwargs}
    with pytest.raises(error, match=message):
        NuScenesMetric(data_root=str(synthetic_nuscenes), **kwargs)


def test_twice_predicted_sample_is_an_error(synthetic_nuscenes, val_dataset, prediction_samples):
    samples = prediction_samples(indices=[0])
    with pytest.raises(ValueError, match="predicted twice"):
        evaluate(make_metric(synthetic_nuscenes), samples + samples, val_dataset)


def test_predictions_without_scores_are_an_error(synthetic_nuscenes, val_dataset, prediction_samples):
    sample = prediction_samples(indices=[0])[0].to_dict()
    del sample["pred_instances_3d"]["scores_3d"]
    with pytest.raises(KeyError, match=r"pred_instances_3d lacks \['scores_3d'\]"):
        evaluate(make_metric(synthetic_nuscenes), [sample], val_dataset)
