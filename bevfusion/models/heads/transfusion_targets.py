"""Training targets of the TransFusion head: Gaussian heatmaps and per-layer Hungarian-assigned box targets.

`train_cfg` keys: `assigner` (a TASK_UTILS config, e.g. `HungarianAssigner3D`), `code_weights` (one per code
value), `gaussian_overlap`, `min_radius` (cells), and `pos_weight` (class-loss weight of positives; <= 0
means 1, as in the reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bevfusion.models.task_utils import TransFusionBBoxCoder, draw_gaussian, gaussian_radius
from bevfusion.registry import TASK_UTILS

REQUIRED_KEYS = ("assigner", "code_weights", "gaussian_overlap", "min_radius")


@dataclass
class LayerTargets:
    """Targets of one decoder layer for a batch: `P` proposals per sample, `K` classes (label `K` = background)."""

    labels: torch.Tensor  # (B, P) int64
    label_weights: torch.Tensor  # (B, P)
    box_targets: torch.Tensor  # (B, P, code_size)
    box_weights: torch.Tensor  # (B, P, code_size): code weights on assigned proposals, 0 elsewhere
    num_positive: int
    matched_ious: torch.Tensor  # scalar: mean 3D IoU of the assigned proposals (for the log)


class TransFusionTargets:
    """Builds heatmap and box targets from GT boxes `(G, 9)` and labels `(G,)` for a head's grid and coder."""

    def __init__(
        self, train_cfg: dict, bbox_coder: TransFusionBBoxCoder, num_classes: int, point_cloud_range: Sequence[float]
    ) -> None:
        missing = [key for key in REQUIRED_KEYS if key not in train_cfg]
        if missing:
            raise ValueError(f"TransFusionHead: train_cfg lacks {missing}")
        if len(train_cfg["code_weights"]) != bbox_coder.code_size:
            raise ValueError(
                f"TransFusionHead: train_cfg['code_weights'] has {len(train_cfg['code_weights'])} values, "
                f"the code has {bbox_coder.code_size}"
            )
        self.assigner = TASK_UTILS.build(
            train_cfg["assigner"], default_args=dict(point_cloud_range=list(point_cloud_range))
        )
        self.coder, self.num_classes = bbox_coder, num_classes
        self.code_weights = [float(w) for w in train_cfg["code_weights"]]
        self.gaussian_overlap = float(train_cfg["gaussian_overlap"])
        self.min_radius = int(train_cfg["min_radius"])
        self.pos_weight = float(train_cfg.get("pos_weight", -1))

    def heatmap(self, gt_boxes: torch.Tensor, gt_labels: torch.Tensor) -> torch.Tensor:
        """`(K, nx, ny)` targets: a Gaussian peak of 1 at each box's centre cell, max-combined per class."""
        heatmap = gt_boxes.new_zeros((self.num_classes, *self.coder.grid_size))
        if len(gt_boxes) == 0:
            return heatmap
        cells = self.coder.encode(gt_boxes)[:, :2]
        cell_x, cell_y = self.coder.cell_size
        radius = gaussian_radius(gt_boxes[:, 3] / cell_x, gt_boxes[:, 4] / cell_y, self.gaussian_overlap)
        radius = radius.int().clamp(min=self.min_radius)
        rows = zip(gt_labels.tolist(), cells.floor().long().tolist(), radius.tolist(), strict=True)
        for label, (i, j), box_radius in rows:
            draw_gaussian(heatmap[label], i, j, box_radius)
        return heatmap

    @torch.no_grad()
    def layer(
        self,
        codes: torch.Tensor,
        logits: torch.Tensor,
        gt_boxes: Sequence[torch.Tensor],
        gt_labels: Sequence[torch.Tensor],
    ) -> LayerTargets:
        """Assign one layer's proposals (`codes` `(B, P, code_size)`, `logits` `(B, K, P)`) to each sample's GT."""
        batch, num_proposals, code_size = codes.shape
        labels = torch.full((batch, num_proposals), self.num_classes, dtype=torch.long, device=codes.device)
        label_weights = codes.new_ones((batch, num_proposals))
        box_targets = codes.new_zeros((batch, num_proposals, code_size))
        box_weights = codes.new_zeros((batch, num_proposals, code_size))
        iou_sum, num_positive = codes.new_zeros(()), 0
        pred_boxes = self.coder.decode(codes)
        for b in range(batch):
            result = self.assigner.assign(pred_boxes[b], logits[b].T, gt_boxes[b], gt_labels[b])
            positive = result.positive.nonzero().squeeze(1)
            matched = result.gt_index[positive]
            labels[b, positive] = gt_labels[b][matched]
            if self.pos_weight > 0:
                label_weights[b, positive] = self.pos_weight
            box_targets[b, positive] = self.coder.encode(gt_boxes[b][matched])
            box_weights[b, positive] = codes.new_tensor(self.code_weights)
            iou_sum += result.ious[positive].sum()
            num_positive += len(positive)
        matched_ious = iou_sum / max(num_positive, 1)
        return LayerTargets(labels, label_weights, box_targets, box_weights, num_positive, matched_ious)
