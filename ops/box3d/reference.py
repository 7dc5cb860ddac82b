"""Pure-PyTorch references for the box ops: readable, slow, used by tests."""

from collections.abc import Callable

import torch


def points_in_boxes_reference(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Mask `(P, N)`: point inside box (faces included). Boxes are `(N, 7)` gravity-centre."""
    offset = points[:, None, :3] - boxes[None, :, :3]
    cos, sin = torch.cos(boxes[:, 6]), torch.sin(boxes[:, 6])
    along = offset[..., 0] * cos + offset[..., 1] * sin
    across = -offset[..., 0] * sin + offset[..., 1] * cos
    return (
        (along.abs() <= boxes[:, 3] / 2) & (across.abs() <= boxes[:, 4] / 2) & (offset[..., 2].abs() <= boxes[:, 5] / 2)
    )


def bev_corners_reference(boxes: torch.Tensor) -> torch.Tensor:
    """`(N, 4, 2)` float64 BEV corners, counter-clockwise."""
    boxes = boxes.double()
    half_l, half_w = boxes[:, 3] / 2, boxes[:, 4] / 2
    along = torch.stack([half_l, -half_l, -half_l, half_l], dim=1)
    across = torch.stack([half_w, half_w, -half_w, -half_w], dim=1)
    cos, sin = torch.cos(boxes[:, 6:7]), torch.sin(boxes[:, 6:7])
    x = boxes[:, 0:1] + along * cos - across * sin
    y = boxes[:, 1:2] + along * sin + across * cos
    return torch.stack([x, y], dim=2)


def _clip_by_edge(
    polygons: torch.Tensor, counts: torch.Tensor, start: torch.Tensor, end: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sutherland-Hodgman step on a batch: keep the part of each polygon left of its edge start -> end."""
    width = polygons.shape[1]
    index = torch.arange(width, device=polygons.device)
    valid = index[None] < counts[:, None]
    prev_index = torch.remainder(index[None] - 1, counts.clamp(min=1)[:, None])
    prev = torch.gather(polygons, 1, prev_index[..., None].expand(-1, -1, 2))
    direction = (end - start)[:, None]

    def side(p: torch.Tensor) -> torch.Tensor:
        offset = p - start[:, None]
        return direction[..., 0] * offset[..., 1] - direction[..., 1] * offset[..., 0]

    side_prev, side_cur = side(prev), side(polygons)
    crosses = ((side_prev < 0) & (side_cur > 0)) | ((side_prev > 0) & (side_cur < 0))
    t = torch.where(crosses, side_prev / torch.where(crosses, side_prev - side_cur, 1.0), 0.0)
    crossing = prev + t[..., None] * (polygons - prev)
    candidates = torch.stack([crossing, polygons], dim=2).reshape(len(polygons), 2 * width, 2)
    keep = torch.stack([crosses & valid, (side_cur >= 0) & valid], dim=2).reshape(len(polygons), 2 * width)
    order = torch.argsort((~keep).int(), dim=1, stable=True)
    compacted = torch.gather(candidates, 1, order[..., None].expand(-1, -1, 2))
    return compacted[:, :8], keep.sum(dim=1)


def _polygon_area(polygons: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    index = torch.arange(polygons.shape[1], device=polygons.device)
    valid = index[None] < counts[:, None]
    next_index = torch.remainder(index[None] + 1, counts.clamp(min=1)[:, None])
    following = torch.gather(polygons, 1, next_index[..., None].expand(-1, -1, 2))
    cross = polygons[..., 0] * following[..., 1] - polygons[..., 1] * following[..., 0]
    return torch.where(counts >= 3, (cross * valid).sum(dim=1).abs() / 2, 0.0)


def bev_intersection_reference(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """Aligned `(K,)` float64 areas of the BEV intersections of `boxes_a[k]` and `boxes_b[k]`."""
    origin = boxes_a[:, None, :2].double()
    polygons = torch.zeros((len(boxes_a), 8, 2), dtype=torch.float64, device=boxes_a.device)
    polygons[:, :4] = bev_corners_reference(boxes_a) - origin
    counts = torch.full((len(boxes_a),), 4, dtype=torch.int64, device=boxes_a.device)
    clip_corners = bev_corners_reference(boxes_b) - origin
    for edge in range(4):
        polygons, counts = _clip_by_edge(polygons, counts, clip_corners[:, edge], clip_corners[:, (edge + 1) % 4])
    return _polygon_area(polygons, counts)


def _height_overlap(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    a, b = boxes_a.double(), boxes_b.double()
    top = torch.minimum(a[:, 2] + a[:, 5] / 2, b[:, 2] + b[:, 5] / 2)
    bottom = torch.maximum(a[:, 2] - a[:, 5] / 2, b[:, 2] - b[:, 5] / 2)
    return (top - bottom).clamp(min=0)


def box_iou_reference(
    boxes_a: torch.Tensor, boxes_b: torch.Tensor, aligned: bool = False, bev: bool = True
) -> torch.Tensor:
    """Rotated IoU, float64: BEV (`bev`) or 3D, pairwise `(N, M)` or aligned `(N,)`; 0 for an empty union."""
    rows, cols = len(boxes_a), len(boxes_b)
    if not aligned:
        boxes_a = boxes_a[:, None].expand(rows, cols, boxes_a.shape[1]).reshape(rows * cols, -1)
        boxes_b = boxes_b[None].expand(rows, cols, boxes_b.shape[1]).reshape(rows * cols, -1)
    a, b = boxes_a.double(), boxes_b.double()
    intersection = bev_intersection_reference(a, b)
    size_a, size_b = a[:, 3] * a[:, 4], b[:, 3] * b[:, 4]
    if not bev:
        intersection = intersection * _height_overlap(a, b)
        size_a, size_b = size_a * a[:, 5], size_b * b[:, 5]
    union = size_a + size_b - intersection
    iou = torch.where(union > 0, intersection / torch.where(union > 0, union, 1.0), 0.0)
    return iou if aligned else iou.reshape(rows, cols)


def _greedy_reference(
    overlaps_with: Callable[[int, torch.Tensor], torch.Tensor],
    scores: torch.Tensor,
    pre_max_size: int | None,
    post_max_size: int | None,
) -> torch.Tensor:
    """Walk boxes by descending score (ties: lower index first); keep the best remaining box and drop
    every remaining box `overlaps_with(best, remaining)` flags."""
    remaining = torch.sort(scores, descending=True, stable=True).indices[:pre_max_size]
    kept = []
    while len(remaining):
        best, rest = remaining[0], remaining[1:]
        kept.append(int(best))
        remaining = rest[~overlaps_with(int(best), rest)]
    return torch.tensor(kept[:post_max_size], dtype=torch.int64)


def nms_bev_reference(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    pre_max_size: int | None = None,
    post_max_size: int | None = None,
) -> torch.Tensor:
    """Plain greedy rotated NMS: drop boxes whose BEV IoU with a kept, better box exceeds the threshold."""

    def overlaps_with(best: int, others: torch.Tensor) -> torch.Tensor:
        best_box = boxes[best : best + 1].expand(len(others), -1)
        return box_iou_reference(best_box, boxes[others], aligned=True) > iou_threshold

    return _greedy_reference(overlaps_with, scores, pre_max_size, post_max_size)


def circle_nms_reference(
    centers: torch.Tensor,
    scores: torch.Tensor,
    distance_threshold: float,
    pre_max_size: int | None = None,
    post_max_size: int | None = None,
) -> torch.Tensor:
    """Plain greedy circle NMS: drop boxes whose squared centre distance to a kept, better box is <= threshold."""
    xy = centers[:, :2].float()

    def overlaps_with(best: int, others: torch.Tensor) -> torch.Tensor:
        offset = xy[best] - xy[others]
        return offset[:, 0] * offset[:, 0] + offset[:, 1] * offset[:, 1] <= distance_threshold

    return _greedy_reference(overlaps_with, scores, pre_max_size, post_max_size)
