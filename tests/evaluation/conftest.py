"""Fixtures: the synthetic set's val info file and dataset, model-style predictions, mmengine's log."""

import logging

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

from bevfusion.datasets import NuScenesDataset
from bevfusion.datasets.converters.nuscenes_infos import create_nuscenes_infos
from bevfusion.datasets.transforms.formatting import Pack3DDetInputs
from bevfusion.structures import Det3DDataSample, LiDARBoxes


@pytest.fixture(scope="session")
def val_info(synthetic_nuscenes, tmp_path_factory) -> str:
    """`nuscenes_infos_val.pkl` of the synthetic set (its two scenes are mini_val)."""
    out = tmp_path_factory.mktemp("metric_infos")
    return create_nuscenes_infos(str(synthetic_nuscenes), "v1.0-mini", str(out))["val"]


@pytest.fixture(scope="session")
def val_dataset(synthetic_nuscenes, val_info) -> NuScenesDataset:
    """The val samples with the boxes the devkit evaluates (LiDAR or radar points inside)."""
    return NuScenesDataset(ann_file=val_info, data_root=str(synthetic_nuscenes), test_mode=True)


def _ground_truth_as_predictions(boxes: LiDARBoxes, labels: torch.Tensor):
    return boxes, labels, torch.ones(len(labels))


@pytest.fixture(scope="session")
def prediction_samples(val_dataset):
    """`build(edit=None, indices=None)`: model-style outputs of the val samples, as `Det3DDataSample`s.

    Each sample goes through `Pack3DDetInputs` (so its metainfo is what a model receives)
    and predicts its own ground truth with score 1, after `edit(boxes, labels) ->
    (boxes, labels, scores)` if given.
    """
    pack = Pack3DDetInputs()

    def build(edit=_ground_truth_as_predictions, indices=None) -> list[Det3DDataSample]:
        samples = []
        for index in range(len(val_dataset)) if indices is None else indices:
            info = val_dataset.get_data_info(index)
            sample = pack({**info, "points": np.zeros((0, 5), np.float32)})["data_samples"]
            boxes, labels, scores = edit(sample.gt_instances_3d.bboxes_3d, sample.gt_instances_3d.labels_3d)
            prediction = InstanceData()
            prediction.bboxes_3d, prediction.labels_3d, prediction.scores_3d = boxes, labels, scores
            sample.pred_instances_3d = prediction
            samples.append(sample)
        return samples

    return build


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int = logging.WARNING) -> str:
        return "\n".join(record.getMessage() for record in self.records if record.levelno >= level)


@pytest.fixture
def mmengine_log():
    """What mmengine's current logger receives (it does not propagate to pytest's caplog)."""
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
