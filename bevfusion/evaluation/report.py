"""The devkit's serialized `DetectionMetrics` as a flat metric dict and as a readable table."""

from __future__ import annotations

import math

from nuscenes.eval.detection.constants import TP_METRICS

# The devkit's abbreviations of its mean true-positive errors.
TP_ABBREVIATIONS = {
    "trans_err": "ATE",
    "scale_err": "ASE",
    "orient_err": "AOE",
    "vel_err": "AVE",
    "attr_err": "AAE",
}


def flat_metrics(summary: dict) -> dict[str, float]:
    """`mAP`, `NDS`, `mATE`..`mAAE`, and per class `<cls>_AP`, `<cls>_AP_dist_<th>`, `<cls>_<tp error>`.

    `summary` is `DetectionMetrics.serialize()`. TP errors the devkit leaves undefined
    (orientation, velocity and attribute of cones; velocity and attribute of barriers) are NaN.
    """
    metrics = {"mAP": float(summary["mean_ap"]), "NDS": float(summary["nd_score"])}
    for name, value in summary["tp_errors"].items():
        metrics[f"m{TP_ABBREVIATIONS[name]}"] = float(value)
    for class_name, ap in summary["mean_dist_aps"].items():
        metrics[f"{class_name}_AP"] = float(ap)
        for threshold, threshold_ap in summary["label_aps"][class_name].items():
            metrics[f"{class_name}_AP_dist_{threshold}"] = float(threshold_ap)
        for name in TP_METRICS:
            metrics[f"{class_name}_{name}"] = float(summary["label_tp_errors"][class_name][name])
    return metrics


def _cell(value: float) -> str:
    return "   -  " if math.isnan(value) else f"{value:6.3f}"


def metrics_table(summary: dict, title: str) -> str:
    """mAP, NDS, the mean TP errors and a per-class AP / TP-error table, as the devkit prints them."""
    lines = [title, f"mAP: {summary['mean_ap']:.4f}    NDS: {summary['nd_score']:.4f}"]
    lines.append("    ".join(f"m{TP_ABBREVIATIONS[name]}: {summary['tp_errors'][name]:.4f}" for name in TP_METRICS))
    lines.append(f"{'Object Class':<22}{'AP':>6}" + "".join(f"  {TP_ABBREVIATIONS[name]:>6}" for name in TP_METRICS))
    for class_name, ap in summary["mean_dist_aps"].items():
        errors = summary["label_tp_errors"][class_name]
        lines.append(f"{class_name:<22}{ap:6.3f}" + "".join(f"  {_cell(errors[name])}" for name in TP_METRICS))
    return "\n".join(lines)
