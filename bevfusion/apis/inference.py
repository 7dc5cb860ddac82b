"""`inference_detector`: one sample (an info entry or a `RawSample`) -> boxes, scores and labels in the LiDAR frame.

Both kinds of sample go through the config's own test pipeline, so the model sees exactly what
`tools/test.py` would feed it:

- an info entry (one item of an info file's `data_list`, ours or mmdetection3d's v2) is resolved
  against `data_root` / `data_prefix` by `NuScenesDataset.parse_data_info` and runs through the
  whole pipeline;
- a `RawSample` becomes the results dict the pipeline's file readers would have written, and runs
  through the steps after them.

The camera view transform keeps its geometry while the rig's `lidar2img` is unchanged, so
repeated calls on one rig reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate
from torch import nn

from bevfusion.datasets import NuScenesDataset
from bevfusion.datasets.transforms import LoadMultiViewImageFromFiles, LoadPointsFromFile, LoadPointsFromMultiSweeps
from bevfusion.registry import TRANSFORMS, register_all_modules
from bevfusion.structures import Det3DDataSample, LiDARBoxes

from .raw_sample import RawSample, ReaderSettings, raw_results

FILE_READERS = (LoadMultiViewImageFromFiles, LoadPointsFromFile)


@dataclass
class InferenceResult:
    """Detections of one sample in the LiDAR frame, with the packed model input they came from.

    `boxes` `(N, 9)`, `scores` `(N,)`, `labels` `(N,)` index `class_names`. `inputs` (points, and
    the augmented images `img` for camera models) and `data_sample` (calibration, metainfo,
    `pred_instances_3d` in the model's frame) are what `bevfusion.visualization.render_data_sample`
    draws.
    """

    boxes: LiDARBoxes
    scores: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    inputs: dict
    data_sample: Det3DDataSample

    @property
    def names(self) -> list[str]:
        """The class name of every box."""
        return [self.class_names[int(label)] for label in self.labels]


def _test_pipeline_config(cfg) -> list:
    dataset = cfg.test_dataloader.dataset
    while "pipeline" not in dataset and "dataset" in dataset:  # dataset wrappers
        dataset = dataset.dataset
    if "pipeline" not in dataset:
        raise ValueError("inference_detector: the config's test_dataloader.dataset has no pipeline")
    return list(dataset.pipeline)


def build_test_pipeline(model: nn.Module) -> list[Callable]:
    """The transforms of `model.cfg`'s test pipeline (`init_model` attaches the config)."""
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ValueError("inference_detector: the model has no config attached; build it with init_model(config)")
    register_all_modules()
    return [
        TRANSFORMS.build(step) if isinstance(step, dict | ConfigDict) else step for step in _test_pipeline_config(cfg)
    ]


def reader_settings(transforms: list[Callable]) -> ReaderSettings:
    """What the pipeline's file readers load: cameras in order, point columns, whether column 4 is the time lag."""
    cameras = [step for step in transforms if isinstance(step, LoadMultiViewImageFromFiles)]
    points = [step for step in transforms if isinstance(step, LoadPointsFromFile)]
    if not points:
        raise ValueError("inference_detector: the test pipeline has no LoadPointsFromFile; it cannot take points")
    return ReaderSettings(
        camera_types=tuple(cameras[0].camera_types) if cameras else (),
        load_dim=points[0].load_dim,
        use_dim=tuple(points[0].use_dim),
        time_lag_column=any(isinstance(step, LoadPointsFromMultiSweeps) for step in transforms),
    )


def _info_results(entry: Mapping, data_root: str, data_prefix: dict | None) -> dict:
    """An info entry with absolute file paths, as `NuScenesDataset` resolves it (annotations are not needed)."""
    if "lidar_points" not in entry:
        raise ValueError(
            "inference_detector: the info entry has no 'lidar_points'; pass one item of a v2 info file's "
            "'data_list' (0.x files convert with 'tools/create_data.py update')"
        )
    resolver = NuScenesDataset("", data_root=data_root, data_prefix=data_prefix, test_mode=True, lazy_init=True)
    info = resolver.parse_data_info({key: value for key, value in entry.items() if key != "instances"})
    info.pop("ann_info")
    return info


def prepare_sample(
    model: nn.Module, sample: Mapping | RawSample, data_root: str = "", data_prefix: dict | None = None
) -> dict:
    """The packed `{'inputs', 'data_samples'}` the config's test pipeline makes of `sample`."""
    transforms = build_test_pipeline(model)
    if isinstance(sample, RawSample):
        results = raw_results(sample, reader_settings(transforms))
        transforms = [step for step in transforms if not isinstance(step, FILE_READERS)]
    elif isinstance(sample, Mapping):
        results = _info_results(sample, data_root, data_prefix)
    else:
        raise TypeError(f"inference_detector: a sample is an info entry (dict) or a RawSample, got {type(sample)}")
    for step in transforms:
        results = step(results)
    return results


def inference_detector(
    model: nn.Module, sample: Mapping | RawSample, data_root: str = "", data_prefix: dict | None = None
) -> InferenceResult:
    """Detect objects in one sample with a model from `init_model`.

    Args:
        model: the detector, with its config as `model.cfg`.
        sample: an info entry (v2, ours or mmdetection3d's) or a `RawSample`.
        data_root, data_prefix: where an info entry's files are, as for `NuScenesDataset`
            (default prefixes: the nuScenes layout `samples/CAM_FRONT`, `sweeps/LIDAR_TOP`, ...).

    Returns boxes in the LiDAR frame of the sample: a test pipeline that augments the LiDAR frame
    has its `lidar_aug` undone.
    """
    packed = prepare_sample(model, sample, data_root, data_prefix)
    with torch.no_grad():
        data_sample = model.test_step(pseudo_collate([packed]))[0]
    predictions = data_sample.pred_instances_3d
    boxes = predictions.bboxes_3d.to("cpu")
    lidar_aug = data_sample.calib.lidar_aug.cpu()
    if not torch.equal(lidar_aug, torch.eye(4, dtype=lidar_aug.dtype)):
        boxes = boxes.transform(torch.linalg.inv(lidar_aug))
    return InferenceResult(
        boxes=boxes,
        scores=predictions.scores_3d.cpu(),
        labels=predictions.labels_3d.cpu(),
        class_names=tuple(model.heads["object"].class_names),
        inputs=packed["inputs"],
        data_sample=data_sample,
    )
