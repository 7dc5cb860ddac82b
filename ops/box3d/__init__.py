"""3D box ops on `(N, 7+)` gravity-centre boxes `x, y, z, l, w, h, yaw`: points-in-boxes, rotated IoU, NMS."""

from __future__ import annotations

import torch

from .._ext import check_device, load_ops
from .reference import points_in_boxes_reference

__all__ = ["bev_iou", "circle_nms", "iou_3d", "nms_bev", "points_in_boxes", "points_in_boxes_reference"]


def _check_boxes(op: str, name: str, boxes: torch.Tensor, width: int = 7) -> None:
    if boxes.dim() != 2 or boxes.shape[1] < width or not boxes.is_floating_point():
        raise ValueError(f"{op}: {name} must be a float tensor (N, {width}+), got {tuple(boxes.shape)} {boxes.dtype}")


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Mask `(P, N)`: point p lies inside box n, faces included (nuscenes-devkit convention).

    `points` is `(P, 3+)`, only x, y, z are read; `boxes` is `(N, 7+)` gravity-centre
    `x, y, z, l, w, h, yaw`. Runs the C++ or CUDA kernel by device.
    """
    load_ops()
    check_device("points_in_boxes", points, boxes)
    return torch.ops.bevfusion.points_in_boxes(points[:, :3].float().contiguous(), boxes[:, :7].float().contiguous())


def _box_iou(op: str, boxes_a: torch.Tensor, boxes_b: torch.Tensor, aligned: bool, bev: bool) -> torch.Tensor:
    _check_boxes(op, "boxes_a", boxes_a)
    _check_boxes(op, "boxes_b", boxes_b)
    if aligned and len(boxes_a) != len(boxes_b):
        raise ValueError(
            f"{op}: aligned IoU needs as many boxes in boxes_a as in boxes_b, got {len(boxes_a)}, {len(boxes_b)}"
        )
    load_ops()
    check_device(op, boxes_a, boxes_b)
    return torch.ops.bevfusion.box_iou(
        boxes_a[:, :7].float().contiguous(), boxes_b[:, :7].float().contiguous(), aligned, bev
    )


def bev_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor, aligned: bool = False) -> torch.Tensor:
    """Rotated bird's-eye-view IoU: `(N, M)` for every pair, or `(N,)` for row pairs when `aligned`.

    Degenerate pairs whose union is empty get 0.
    """
    return _box_iou("bev_iou", boxes_a, boxes_b, aligned, bev=True)


def iou_3d(boxes_a: torch.Tensor, boxes_b: torch.Tensor, aligned: bool = False) -> torch.Tensor:
    """Rotated 3D IoU: BEV intersection times height overlap over the union volume; shapes as `bev_iou`."""
    return _box_iou("iou_3d", boxes_a, boxes_b, aligned, bev=False)


def _greedy(
    op: str,
    rows: torch.Tensor,
    scores: torch.Tensor,
    threshold: float,
    pre_max_size: int | None,
    post_max_size: int | None,
) -> torch.Tensor:
    if scores.dim() != 1 or len(scores) != len(rows):
        raise ValueError(f"{op}: scores must be ({len(rows)},), got {tuple(scores.shape)}")
    load_ops()
    check_device(op, rows, scores)
    order = torch.sort(scores, descending=True, stable=True).indices[:pre_max_size]
    kept = getattr(torch.ops.bevfusion, op)(rows[order].float().contiguous(), float(threshold))
    return order[kept][:post_max_size]


def nms_bev(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    pre_max_size: int | None = None,
    post_max_size: int | None = None,
) -> torch.Tensor:
    """Greedy rotated NMS in BEV: indices of the kept boxes, by descending score.

    Only the `pre_max_size` best boxes take part; a box is dropped when its BEV IoU with a kept,
    better box exceeds `iou_threshold`; at most `post_max_size` indices are returned.
    """
    _check_boxes("nms_bev", "boxes", boxes)
    return _greedy("nms_bev", boxes[:, :7], scores, iou_threshold, pre_max_size, post_max_size)


def circle_nms(
    centers: torch.Tensor,
    scores: torch.Tensor,
    distance_threshold: float,
    post_max_size: int | None = None,
    pre_max_size: int | None = None,
) -> torch.Tensor:
    """CenterPoint's circle NMS: indices of the kept boxes, by descending score.

    `centers` is `(N, 2+)` (boxes work: x, y are read). A box is dropped when its squared BEV
    centre distance to a kept, better box is <= `distance_threshold` (CenterPoint's `min_radius`).
    """
    _check_boxes("circle_nms", "centers", centers, width=2)
    return _greedy("circle_nms", centers[:, :2], scores, distance_threshold, pre_max_size, post_max_size)
