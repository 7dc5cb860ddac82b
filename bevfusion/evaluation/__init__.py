"""Evaluation: `NuScenesMetric`, the official nuScenes detection metric over nuscenes-devkit."""

from .attributes import motion_attribute
from .detection_eval import SampleDetectionEval
from .nuscenes_metric import NuScenesMetric
from .submission import detections_to_submission

__all__ = ["NuScenesMetric", "SampleDetectionEval", "detections_to_submission", "motion_attribute"]
