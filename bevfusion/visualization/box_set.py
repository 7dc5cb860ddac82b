"""`BoxSet`: the boxes of one kind (predictions or ground truth) to draw, as numpy, with their style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from mmengine.structures import InstanceData

from bevfusion.structures import LiDARBoxes

from .arrays import as_numpy


@dataclass(frozen=True)
class BoxSet:
    """Boxes `(N, 9)` in the (augmented) LiDAR frame, their corners `(N, 8, 3)`, labels and optional scores.

    `dashed` marks ground truth (dashed, thinner, unlabelled); predictions are solid and labelled.
    """

    boxes: np.ndarray
    corners: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None
    dashed: bool

    @classmethod
    def from_instances(
        cls, instances: InstanceData, score_threshold: float = 0.0, ground_truth: bool = False
    ) -> BoxSet:
        """From `InstanceData` with `bboxes_3d` (`LiDARBoxes`), `labels_3d` and, for predictions, `scores_3d`.

        Predictions scoring below `score_threshold` are left out.
        """
        boxes = instances.bboxes_3d
        if not isinstance(boxes, LiDARBoxes):
            boxes = LiDARBoxes(torch.as_tensor(as_numpy(boxes, np.float32)))
        labels = as_numpy(instances.labels_3d, np.int64)
        scores = None if ground_truth or "scores_3d" not in instances else as_numpy(instances.scores_3d)
        if len(labels) != len(boxes) or (scores is not None and len(scores) != len(boxes)):
            raise ValueError(
                f"BoxSet: {len(boxes)} boxes, {len(labels)} labels"
                + ("" if scores is None else f", {len(scores)} scores")
                + " (they must be equal)"
            )
        keep = np.ones(len(labels), dtype=bool) if scores is None else scores >= score_threshold
        tensor = boxes.tensor.detach().cpu().double()
        corners = LiDARBoxes(tensor).corners.numpy()
        return cls(
            tensor.numpy()[keep], corners[keep], labels[keep], None if scores is None else scores[keep], ground_truth
        )

    def __len__(self) -> int:
        return len(self.labels)

    def class_name(self, index: int, class_names: Sequence[str]) -> str:
        label = int(self.labels[index])
        return class_names[label] if 0 <= label < len(class_names) else f"class {label}"

    def caption(self, index: int, class_names: Sequence[str]) -> str:
        """`class score` for a prediction, the class alone for ground truth."""
        name = self.class_name(index, class_names)
        return name if self.scores is None else f"{name} {self.scores[index]:.2f}"
