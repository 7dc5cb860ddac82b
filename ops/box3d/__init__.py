"""3D box ops: points-in-boxes (more to come: rotated IoU, NMS)."""
import torch

from .._ext import check_device, load_ops
from .reference import points_in_boxes_reference

__all__ = ["points_in_boxes", "points_in_boxes_reference"]


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Mask `(P, N)`: point p lies inside box n, faces included (nuscenes-devkit convention).

    `points` is `(P, 3+)`, only x, y, z are read; `boxes` is `(N, 7+)` gravity-centre
    `x, y, z, l, w, h, yaw`. Runs the C++ or CUDA kernel by device.
    """
    load_ops()
    check_device("points_in_boxes", points, boxes)
    return torch.ops.bevfusion.points_in_boxes(
        points[:, :3].float().contiguous(), boxes[:, :7].float().contiguous()
    )
