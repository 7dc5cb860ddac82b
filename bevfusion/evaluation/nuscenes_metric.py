"""`NuScenesMetric`: model detections -> nuScenes submission JSON -> the devkit's official detection metric.

`process` turns each sample's `pred_instances_3d` (LiDAR-frame `LiDARBoxes`, scores,
labels) into submission boxes in the global frame, using the sample's `token`,
`lidar2ego` and `ego2global` (which `Pack3DDetInputs` keeps in the metainfo).
`compute_metrics` writes `results_nusc.json`, runs the devkit's `DetectionEval` algorithm
(`detection_cvpr_2019`) on the samples it was given, logs a table, writes
`metrics_summary.json` (the devkit's format) and returns mAP, NDS, the TP errors and the
per-class figures.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.structures import BaseDataElement
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.constants import DETECTION_NAMES

from bevfusion.datasets.converters.nuscenes_infos import CLASSES
from bevfusion.registry import METRICS
from bevfusion.structures import LiDARBoxes

from .detection_eval import SampleDetectionEval, check_split, split_sample_tokens
from .report import flat_metrics, metrics_table
from .submission import detections_to_submission, dump_json_atomic, submission_meta

DEFAULT_EVAL_SETS = {"v1.0-trainval": "val", "v1.0-mini": "mini_val", "v1.0-test": "test"}
RESULTS_FILE = "results_nusc.json"
SUMMARY_FILE = "metrics_summary.json"
_FRAME_KEYS = ("token", "lidar2ego", "ego2global")


def _numpy(value) -> np.ndarray:
    return torch.as_tensor(value).detach().cpu().numpy()


@METRICS.register_module()
class NuScenesMetric(BaseMetric):
    """The official nuScenes detection metric (mAP, NDS, TP errors) over nuscenes-devkit.

    Args:
        data_root: the nuScenes dataroot (holds `<version>/`).
        ann_file: optional info file; it supplies `token`, `lidar2ego` and `ego2global` to
            samples whose metainfo lacks them (looked up by `token`, else `sample_idx`).
        version: the table folder, e.g. `v1.0-trainval` or `v1.0-mini`.
        eval_set: the split: predefined (`val`, `mini_val`, ...) or a key of
            `<data_root>/<version>/splits.json`; default the version's validation split.
            The predicted samples must belong to it. Predicting only some of its samples
            evaluates those samples (ground truth restricted to them), with a warning.
        modality: the submission's `meta` flags (`use_camera`, `use_lidar`, ...).
        jsonfile_prefix: folder for `results_nusc.json` and `metrics_summary.json`;
            default a temporary folder, removed after the evaluation.
        eval_config: the devkit configuration name.
        format_only: only write the submission (e.g. for the test server); needs
            `jsonfile_prefix`.
        collect_device, prefix: as in mmengine's `BaseMetric`.

    Class names come from `dataset_meta['classes']` (the runner sets it from the dataset),
    else the ten nuScenes classes in `NuScenesDataset`'s order.
    """

    default_prefix = "NuScenes metric"

    def __init__(
        self,
        data_root: str,
        ann_file: str | None = None,
        version: str = "v1.0-trainval",
        eval_set: str | None = None,
        modality: dict[str, bool] | None = None,
        jsonfile_prefix: str | None = None,
        eval_config: str = "detection_cvpr_2019",
        format_only: bool = False,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if eval_set is None:
            if version not in DEFAULT_EVAL_SETS:
                raise ValueError(f"NuScenesMetric: no default split for version {version!r}; pass eval_set")
            eval_set = DEFAULT_EVAL_SETS[version]
        if format_only and jsonfile_prefix is None:
            raise ValueError("NuScenesMetric: format_only=True needs jsonfile_prefix (where the submission goes)")
        if not format_only:
            if eval_set == "test":
                raise ValueError("NuScenesMetric: the test split has no public annotations; use format_only=True")
            check_split(data_root, version, eval_set)
        if ann_file is not None and not os.path.isfile(ann_file):
            raise FileNotFoundError(f"NuScenesMetric: info file not found: {ann_file}")
        try:
            self.eval_config = config_factory(eval_config)
        except AssertionError as error:
            raise ValueError(f"NuScenesMetric: unknown devkit eval_config {eval_config!r}") from error
        self.data_root = data_root
        self.ann_file = ann_file
        self.version = version
        self.eval_set = eval_set
        self.meta = submission_meta(modality if modality is not None else {"use_camera": False, "use_lidar": True})
        self.jsonfile_prefix = jsonfile_prefix
        self.format_only = format_only
        self._infos: dict | None = None
        self._nusc = None

    # ------------------------------------------------------------------ per batch
    def process(self, data_batch, data_samples: Sequence[BaseDataElement | dict]) -> None:
        """Store each sample's detections as submission boxes in the global frame."""
        classes = self._classes()
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            token, lidar2ego, ego2global = self._sample_frame(sample)
            prediction = sample.get("pred_instances_3d")
            if prediction is None:
                raise KeyError(f"NuScenesMetric: sample {token} has no pred_instances_3d")
            if isinstance(prediction, BaseDataElement):
                prediction = prediction.to_dict()
            missing = sorted({"bboxes_3d", "scores_3d", "labels_3d"} - set(prediction))
            if missing:
                raise KeyError(f"NuScenesMetric: sample {token}: pred_instances_3d lacks {missing}")
            boxes = prediction["bboxes_3d"]
            boxes = boxes if isinstance(boxes, LiDARBoxes) else LiDARBoxes(torch.as_tensor(boxes))
            scores, labels = _numpy(prediction["scores_3d"]), _numpy(prediction["labels_3d"])
            submission = detections_to_submission(
                token, boxes, scores, labels, classes, lidar2ego, ego2global, self.eval_config.max_boxes_per_sample
            )
            self.results.append({"token": token, "boxes": submission, "dropped": len(scores) - len(submission)})

    def _classes(self) -> tuple[str, ...]:
        classes = tuple((self.dataset_meta or {}).get("classes", CLASSES))
        unknown = [name for name in classes if name not in DETECTION_NAMES]
        if unknown:
            raise ValueError(f"NuScenesMetric: classes {unknown} are not nuScenes detection classes {DETECTION_NAMES}")
        return classes

    def _sample_frame(self, sample: dict) -> tuple[str, np.ndarray, np.ndarray]:
        """The sample token and its `lidar2ego`, `ego2global` 4x4 matrices."""
        info = self._info(sample) if any(key not in sample for key in _FRAME_KEYS) else {}
        frame = {
            "token": sample.get("token", info.get("token")),
            "lidar2ego": sample.get("lidar2ego", info.get("lidar_points", {}).get("lidar2ego")),
            "ego2global": sample.get("ego2global", info.get("ego2global")),
        }
        missing = [key for key, value in frame.items() if value is None]
        if missing:
            raise KeyError(
                f"NuScenesMetric: a data sample lacks {missing}; keep them in Pack3DDetInputs' meta_keys "
                "or pass ann_file"
            )
        return frame["token"], np.asarray(frame["lidar2ego"], np.float64), np.asarray(frame["ego2global"], np.float64)

    def _info(self, sample: dict) -> dict:
        """The `ann_file` entry of `sample` (by token, else by sample_idx); {} without an `ann_file`."""
        if self.ann_file is None:
            return {}
        if self._infos is None:
            with open(self.ann_file, "rb") as handle:
                data_list = pickle.load(handle)["data_list"]
            self._infos = {
                **{("sample_idx", info["sample_idx"]): info for info in data_list},
                **{("token", info["token"]): info for info in data_list},
            }
        key = ("token", sample["token"]) if "token" in sample else ("sample_idx", sample.get("sample_idx"))
        if key not in self._infos:
            raise KeyError(f"NuScenesMetric: {key[0]} {key[1]!r} not found in {self.ann_file}")
        return self._infos[key]

    # ------------------------------------------------------------------ whole set
    def compute_metrics(self, results: list) -> dict[str, float]:
        """Write the submission, evaluate it with the devkit, log the table; returns the flat metrics."""
        logger = MMLogger.get_current_instance()
        if not results:
            raise ValueError("NuScenesMetric: no sample was processed, so there is nothing to evaluate")
        submission: dict[str, list] = {}
        for result in results:
            if result["token"] in submission:
                raise ValueError(f"NuScenesMetric: sample {result['token']} was predicted twice")
            submission[result["token"]] = result["boxes"]
        dropped = sum(result["dropped"] for result in results)
        if dropped:
            logger.warning(
                f"NuScenesMetric: kept the {self.eval_config.max_boxes_per_sample} best-scoring boxes per sample "
                f"(the devkit's limit); {dropped} boxes dropped"
            )
        if self.jsonfile_prefix is not None:
            return self._write_and_evaluate(submission, self.jsonfile_prefix, logger)
        with tempfile.TemporaryDirectory(prefix="nuscenes_metric_") as out_dir:
            return self._write_and_evaluate(submission, out_dir, logger)

    def _write_and_evaluate(self, submission: dict[str, list], out_dir: str, logger: MMLogger) -> dict[str, float]:
        result_path = os.path.join(out_dir, RESULTS_FILE)
        dump_json_atomic({"meta": self.meta, "results": submission}, result_path)
        logger.info(f"NuScenesMetric: submission of {len(submission)} samples written to {result_path}")
        if self.format_only:
            return {}
        return self._evaluate(result_path, submission, out_dir, logger)

    def _evaluate(
        self, result_path: str, submission: dict[str, list], out_dir: str, logger: MMLogger
    ) -> dict[str, float]:
        tokens = list(submission)
        nusc = self._nuscenes()
        split_tokens = split_sample_tokens(nusc, self.eval_set)
        outside = sorted(set(tokens) - set(split_tokens))
        if outside:
            raise ValueError(
                f"NuScenesMetric: {len(outside)} predicted samples are not in split {self.eval_set!r} of "
                f"{self.version} (e.g. {outside[0]}); set eval_set to the split the dataset was made from"
            )
        scope = f"{len(tokens)} samples of {self.eval_set!r}"
        if len(tokens) < len(split_tokens):
            scope = f"{len(tokens)} of the {len(split_tokens)} samples of {self.eval_set!r} (a subset)"
            logger.warning(
                f"NuScenesMetric: predictions cover {scope}; evaluating on those samples only, with the ground "
                "truth restricted to them: these are not the whole split's figures"
            )
        if not any(submission.values()):
            logger.warning(
                "NuScenesMetric: the submission holds no box at all (an untrained model?): every class gets AP 0 "
                "and TP errors 1, so mAP and NDS are 0"
            )
        evaluation = SampleDetectionEval(nusc, self.eval_config, result_path, tokens, out_dir, self.eval_set)
        if not any(evaluation.gt_boxes.boxes.values()):
            logger.warning(f"NuScenesMetric: no ground-truth box within the evaluation ranges in {scope}")
        metrics, _ = evaluation.evaluate()
        summary = metrics.serialize()
        summary["meta"] = evaluation.meta
        summary["eval"] = {
            "version": self.version,
            "eval_set": self.eval_set,
            "num_samples": len(tokens),
            "num_split_samples": len(split_tokens),
        }
        dump_json_atomic(summary, os.path.join(out_dir, SUMMARY_FILE))
        logger.info(metrics_table(summary, f"nuScenes detection ({self.version}, {scope}):"))
        return flat_metrics(summary)

    def _nuscenes(self):
        """The devkit's database, loaded once per metric (v1.0-trainval takes a while)."""
        if self._nusc is None:
            from nuscenes.nuscenes import NuScenes

            self._nusc = NuScenes(version=self.version, dataroot=self.data_root, verbose=False)
        return self._nusc
