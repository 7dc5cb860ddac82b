"""Pure-PyTorch references for the box ops: readable, slow, used by tests."""
import torch


def points_in_boxes_reference(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Mask `(P, N)`: point inside box (faces included). Boxes are `(N, 7)` gravity-centre."""
    offset = points[:, None, :3] - boxes[None, :, :3]
    cos, sin = torch.cos(boxes[:, 6]), torch.sin(boxes[:, 6])
    along = offset[..., 0] * cos + offset[..., 1] * sin
    across = -offset[..., 0] * sin + offset[..., 1] * cos
    return (
        (along.abs() <= boxes[:, 3] / 2)
        & (across.abs() <= boxes[:, 4] / 2)
        & (offset[..., 2].abs() <= boxes[:, 5] / 2)
    )
