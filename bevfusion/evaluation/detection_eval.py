"""nuscenes-devkit's `DetectionEval` on the samples a submission covers.

The devkit evaluates a whole split and asserts that the submission holds every one of its
samples; tests and smoke runs predict a few samples only. `SampleDetectionEval` keeps the
devkit's loaders, filters and metric algorithm (`evaluate`: accumulate, calc_ap, calc_tp)
and only replaces the split by an explicit list of sample tokens, whose ground truth it
loads with the devkit's own `load_gt_of_sample_tokens`. On a whole split it gives exactly
what `DetectionEval` gives.

It also evaluates a submission (or ground truth) without a single box, where the devkit's
box filter raises `Invalid box type: None`: there is nothing to filter, and the devkit's
metric code then scores every class as having no predictions (AP 0, TP errors 1).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from nuscenes.eval.common.data_classes import EvalBoxes
from nuscenes.eval.common.loaders import (
    add_center_dist,
    filter_eval_boxes,
    get_samples_of_scenes,
    load_gt_of_sample_tokens,
    load_prediction,
)
from nuscenes.eval.detection.data_classes import DetectionBox, DetectionConfig
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.utils.splits import create_splits_scenes, get_scenes_of_split

# The devkit's predefined splits and the version (table folder suffix) each belongs to.
PREDEFINED_SPLIT_VERSIONS = {
    "train": "trainval",
    "val": "trainval",
    "train_detect": "trainval",
    "train_track": "trainval",
    "mini_train": "mini",
    "mini_val": "mini",
    "test": "test",
}


def check_split(data_root: str, version: str, eval_set: str) -> None:
    """Raise a clear error if `eval_set` cannot be evaluated on `<data_root>/<version>`.

    Predefined names must match the version (as the devkit's `load_gt` asserts); any other
    name must be a key of the devkit's custom-split file `<data_root>/<version>/splits.json`.
    """
    tables = os.path.join(data_root, version)
    if not os.path.isdir(tables):
        raise FileNotFoundError(f"NuScenesMetric: no nuScenes tables at {tables} (data_root={data_root!r})")
    if eval_set in create_splits_scenes():
        suffix = PREDEFINED_SPLIT_VERSIONS[eval_set]
        if not version.endswith(suffix):
            raise ValueError(f"NuScenesMetric: split {eval_set!r} belongs to v1.0-{suffix}, not to {version!r}")
        return
    splits_file = os.path.join(tables, "splits.json")
    if not os.path.isfile(splits_file):
        raise ValueError(f"NuScenesMetric: {eval_set!r} is no predefined split and {splits_file} does not exist")
    with open(splits_file) as handle:
        splits = json.load(handle)
    if eval_set not in splits:
        raise ValueError(f"NuScenesMetric: split {eval_set!r} not in {splits_file} (it has {sorted(splits)})")


def split_sample_tokens(nusc, eval_set: str) -> list[str]:
    """Sample tokens of a predefined or custom (`splits.json`) split, in the devkit's order."""
    return get_samples_of_scenes(get_scenes_of_split(eval_set, nusc), nusc)


def _has_boxes(boxes: EvalBoxes) -> bool:
    return any(boxes.boxes.values())


class SampleDetectionEval(DetectionEval):
    """The devkit's `DetectionEval` restricted to `sample_tokens`.

    The submission at `result_path` must hold exactly those samples (a sample may have
    no box). `evaluate()` is the devkit's; nothing is rendered or printed.
    """

    def __init__(
        self,
        nusc,
        config: DetectionConfig,
        result_path: str,
        sample_tokens: Sequence[str],
        output_dir: str,
        eval_set: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.nusc = nusc
        self.cfg = config
        self.result_path = result_path
        self.eval_set = eval_set
        self.output_dir = output_dir
        self.plot_dir = os.path.join(output_dir, "plots")
        self.verbose = verbose
        pred_boxes, self.meta = load_prediction(result_path, config.max_boxes_per_sample, DetectionBox, verbose)
        gt_boxes = load_gt_of_sample_tokens(nusc, list(sample_tokens), DetectionBox, verbose)
        if set(pred_boxes.sample_tokens) != set(gt_boxes.sample_tokens):
            raise ValueError(f"{result_path}: its samples differ from the {len(sample_tokens)} samples to evaluate")
        self.pred_boxes = self._filter(add_center_dist(nusc, pred_boxes))
        self.gt_boxes = self._filter(add_center_dist(nusc, gt_boxes))
        self.sample_tokens = self.gt_boxes.sample_tokens

    def _filter(self, boxes: EvalBoxes) -> EvalBoxes:
        """The devkit's distance, points and bike-rack filter (a set without any box stays as it is)."""
        if not _has_boxes(boxes):
            return boxes
        return filter_eval_boxes(self.nusc, boxes, self.cfg.class_range, verbose=self.verbose)
