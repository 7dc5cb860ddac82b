"""One-to-one matching of TransFusion's proposals to GT boxes: match costs and the Hungarian assigner.

The cost of matching proposal p to GT g is `cls_cost + reg_cost + iou_cost` (focal class cost, L1 between
BEV centres normalised by the point-cloud range, negative 3D IoU); scipy's `linear_sum_assignment` solves
the matching on a `(proposals, GT)` matrix moved to the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment

from bevfusion.ops.box3d import iou_3d
from bevfusion.registry import TASK_UTILS

# Cost given to pairs whose cost is not finite (e.g. decoded sizes overflowed), so the solver never sees NaN.
UNMATCHABLE_COST = 1e8


@TASK_UTILS.register_module()
class FocalLossCost:
    """Sigmoid focal-loss class cost `(P, G)`: how much cheaper GT g's class is for proposal p as a positive."""

    def __init__(self, weight: float = 1.0, gamma: float = 2.0, alpha: float = 0.25, eps: float = 1e-12) -> None:
        self.weight, self.gamma, self.alpha, self.eps = weight, gamma, alpha, eps

    def __call__(self, logits: torch.Tensor, gt_labels: torch.Tensor) -> torch.Tensor:
        """`logits` `(P, K)` class logits; `gt_labels` `(G,)` class indices."""
        prob = logits.sigmoid()
        neg_cost = -(1 - prob + self.eps).log() * (1 - self.alpha) * prob.pow(self.gamma)
        pos_cost = -(prob + self.eps).log() * self.alpha * (1 - prob).pow(self.gamma)
        return (pos_cost[:, gt_labels] - neg_cost[:, gt_labels]) * self.weight


@TASK_UTILS.register_module()
class BBoxBEVL1Cost:
    """L1 distance `(P, G)` between BEV centres, each axis normalised to [0, 1] by the point-cloud range."""

    def __init__(self, point_cloud_range: Sequence[float], weight: float = 1.0) -> None:
        if len(point_cloud_range) != 6:
            raise ValueError(f"BBoxBEVL1Cost: point_cloud_range needs 6 values, got {list(point_cloud_range)}")
        self.start = [float(v) for v in point_cloud_range[:2]]
        self.extent = [float(point_cloud_range[3 + axis] - point_cloud_range[axis]) for axis in (0, 1)]
        self.weight = weight

    def __call__(self, pred_boxes: torch.Tensor, gt_boxes: torch.Tensor) -> torch.Tensor:
        start, extent = pred_boxes.new_tensor(self.start), pred_boxes.new_tensor(self.extent)
        pred_xy = (pred_boxes[:, :2] - start) / extent
        gt_xy = (gt_boxes[:, :2] - start) / extent
        return torch.cdist(pred_xy, gt_xy, p=1) * self.weight


@TASK_UTILS.register_module()
class IoU3DCost:
    """Negative 3D IoU `(P, G)`: overlapping pairs are cheaper."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def __call__(self, ious: torch.Tensor) -> torch.Tensor:
        return -ious * self.weight


@dataclass
class AssignResult:
    """Per proposal: the matched GT index (`-1` = background) and its 3D IoU with that GT (0 for background)."""

    gt_index: torch.Tensor
    ious: torch.Tensor

    @property
    def positive(self) -> torch.Tensor:
        return self.gt_index >= 0


@TASK_UTILS.register_module()
class HungarianAssigner3D:
    """Hungarian matching over `cls_cost + reg_cost + iou_cost`; every GT gets one proposal (if enough exist).

    The costs are TASK_UTILS configs; `point_cloud_range` is passed on to `reg_cost` (the head supplies it).
    """

    def __init__(self, cls_cost: dict, reg_cost: dict, iou_cost: dict, point_cloud_range: Sequence[float]) -> None:
        self.cls_cost = TASK_UTILS.build(cls_cost)
        self.reg_cost = TASK_UTILS.build(reg_cost, default_args=dict(point_cloud_range=point_cloud_range))
        self.iou_cost = TASK_UTILS.build(iou_cost)

    def cost(
        self, pred_boxes: torch.Tensor, pred_logits: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Matching cost `(P, G)` and the 3D IoUs `(P, G)` it used.

        `pred_boxes` `(P, 9)` decoded proposals, `pred_logits` `(P, K)`, `gt_boxes` `(G, 9)`, `gt_labels` `(G,)`.
        """
        ious = iou_3d(pred_boxes, gt_boxes).to(pred_boxes.dtype)
        cost = self.cls_cost(pred_logits, gt_labels) + self.reg_cost(pred_boxes, gt_boxes) + self.iou_cost(ious)
        return cost, ious

    @torch.no_grad()
    def assign(
        self, pred_boxes: torch.Tensor, pred_logits: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
    ) -> AssignResult:
        """Minimum-cost one-to-one assignment; all proposals are background when there is no GT."""
        num_preds = len(pred_boxes)
        gt_index = torch.full((num_preds,), -1, dtype=torch.long, device=pred_boxes.device)
        matched_ious = pred_boxes.new_zeros(num_preds)
        if len(gt_boxes) == 0 or num_preds == 0:
            return AssignResult(gt_index, matched_ious)
        cost, ious = self.cost(pred_boxes, pred_logits, gt_boxes, gt_labels)
        cost = torch.nan_to_num(cost, nan=UNMATCHABLE_COST, posinf=UNMATCHABLE_COST, neginf=-UNMATCHABLE_COST)
        rows, cols = linear_sum_assignment(cost.double().cpu().numpy())
        rows = torch.as_tensor(rows, dtype=torch.long, device=pred_boxes.device)
        cols = torch.as_tensor(cols, dtype=torch.long, device=pred_boxes.device)
        gt_index[rows] = cols
        matched_ious[rows] = ious[rows, cols]
        return AssignResult(gt_index, matched_ious)
