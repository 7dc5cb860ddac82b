"""Rotated IoU and NMS next to the float64 PyTorch reference, on detector-like box sets.

Detections cluster as a head emits them: each of ~100 objects in +-54 m gets several
jittered candidates, so NMS really suppresses. The IoU floor is 250k polygon clips for a
500 x 500 matrix; NMS is sized as CenterPoint's pre_max_size of 1000.
"""

from __future__ import annotations

import argparse

import torch

from bevfusion.benchmarks.timing import median_seconds
from bevfusion.ops.box3d import bev_iou, circle_nms, iou_3d, nms_bev
from bevfusion.ops.box3d.reference import box_iou_reference, circle_nms_reference, nms_bev_reference


def detections(count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` boxes `(count, 7)` around `count // 10` objects, and their scores."""
    generator = torch.Generator().manual_seed(seed)
    objects = max(1, count // 10)
    centre = (torch.rand(objects, 3, generator=generator) - 0.5) * torch.tensor([108.0, 108.0, 2.0])
    size = torch.tensor([4.5, 1.9, 1.6]) * (0.5 + torch.rand(objects, 3, generator=generator))
    yaw = torch.rand(objects, 1, generator=generator) * 6.283
    owner = torch.randint(objects, (count,), generator=generator)
    jitter = torch.randn(count, 7, generator=generator) * torch.tensor([0.4, 0.4, 0.1, 0.3, 0.1, 0.1, 0.2])
    boxes = torch.cat([centre, size, yaw], dim=1)[owner] + jitter
    boxes[:, 3:6] = boxes[:, 3:6].abs() + 0.1
    return boxes, torch.rand(count, generator=generator)


def _row(op: str, ours: float, reference: float, device: str, **extra) -> list[dict]:
    """Our row (with `extra` figures and the speedup) and the reference row."""
    return [
        {"op": op, "variant": f"native_{device}", "seconds": ours, "speedup_vs_reference": reference / ours, **extra},
        {"op": op, "variant": "torch_reference", "seconds": reference},
    ]


def run(args: argparse.Namespace) -> list[dict]:
    device, repeats = args.device, args.repeats
    boxes, _ = detections(500, seed=1)
    other, _ = detections(500, seed=2)
    boxes, other = boxes.to(device), other.to(device)
    rows = []
    for op, native, bev in (("bev_iou", bev_iou, True), ("iou_3d", iou_3d, False)):
        ours = median_seconds(lambda f=native: f(boxes, other), repeats=repeats, device=device)
        reference = median_seconds(
            lambda b=bev: box_iou_reference(boxes, other, bev=b), repeats=1, warmup=0, device=device
        )
        rows += _row(
            op,
            ours,
            reference,
            device,
            pairs=len(boxes) * len(other),
            ns_per_pair=ours / (len(boxes) * len(other)) * 1e9,
        )
    candidates, scores = detections(1000, seed=3)
    candidates, scores = candidates.to(device), scores.to(device)
    kept = len(nms_bev(candidates, scores, 0.2))
    ours = median_seconds(lambda: nms_bev(candidates, scores, 0.2), repeats=repeats, device=device)
    reference = median_seconds(lambda: nms_bev_reference(candidates.cpu(), scores.cpu(), 0.2), repeats=1, warmup=0)
    rows += _row("nms_bev", ours, reference, device, boxes=len(candidates), kept=kept)
    kept = len(circle_nms(candidates, scores, 4.0))
    ours = median_seconds(lambda: circle_nms(candidates, scores, 4.0), repeats=repeats, device=device)
    reference = median_seconds(lambda: circle_nms_reference(candidates.cpu(), scores.cpu(), 4.0), repeats=1)
    rows += _row("circle_nms", ours, reference, device, boxes=len(candidates), kept=kept)
    return rows
