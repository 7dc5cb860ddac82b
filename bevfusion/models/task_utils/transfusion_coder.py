"""TransFusion's box coder: LiDAR boxes <-> the regression code the head predicts, on the BEV grid.

Code (per box): `[cx, cy, z, log l, log w, log h, sin yaw, cos yaw, vx, vy]`; `code_size=8` drops the velocity.
With `velocity_frame="box"` the last two are the velocity along and across the box's heading instead of the LiDAR
frame's `vx, vy`, and decoding turns them back with the decoded yaw.
`cx, cy` are the centre in continuous cell units of the head's `(nx, ny)` grid:
`cx = (x - x_min) / (voxel_x * out_size_factor)`, so the centre of cell `i` is `i + 0.5` (the query positions).
`z` is the gravity centre, as in `LiDARBoxes` (mmdetection3d's coder shifts a bottom centre here instead).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bevfusion.registry import TASK_UTILS
from bevfusion.structures.boxes import BOX_DIM

CODE_SIZES = (8, 10)
VELOCITY_FRAMES = ("lidar", "box")


@TASK_UTILS.register_module()
class TransFusionBBoxCoder:
    """Encode `(N, 9)` boxes to `(N, code_size)` codes, decode them back, and filter decoded boxes.

    `point_cloud_range` (6), `voxel_size` (3) and `out_size_factor` define the grid; the TransFusion head passes
    its own. `post_center_range` (6, optional) bounds decoded centres; `score_threshold` (optional) is the lowest
    score kept.
    """

    def __init__(
        self,
        point_cloud_range: Sequence[float],
        voxel_size: Sequence[float],
        out_size_factor: int,
        post_center_range: Sequence[float] | None = None,
        score_threshold: float | None = None,
        code_size: int = 10,
        velocity_frame: str = "lidar",
    ) -> None:
        if len(point_cloud_range) != 6:
            raise ValueError(f"TransFusionBBoxCoder: point_cloud_range needs 6 values, got {list(point_cloud_range)}")
        if len(voxel_size) != 3 or min(voxel_size) <= 0:
            raise ValueError(f"TransFusionBBoxCoder: voxel_size needs 3 positive values, got {list(voxel_size)}")
        if post_center_range is not None and len(post_center_range) != 6:
            raise ValueError(f"TransFusionBBoxCoder: post_center_range needs 6 values, got {list(post_center_range)}")
        if code_size not in CODE_SIZES:
            raise ValueError(f"TransFusionBBoxCoder: code_size must be one of {CODE_SIZES}, got {code_size}")
        if velocity_frame not in VELOCITY_FRAMES:
            raise ValueError(
                f"TransFusionBBoxCoder: velocity_frame must be one of {VELOCITY_FRAMES}, got {velocity_frame!r}"
            )
        self.velocity_frame = velocity_frame
        self.origin = (float(point_cloud_range[0]), float(point_cloud_range[1]))
        self.cell_size = (float(voxel_size[0]) * out_size_factor, float(voxel_size[1]) * out_size_factor)
        self.grid_size = tuple(
            round((point_cloud_range[axis + 3] - point_cloud_range[axis]) / self.cell_size[axis]) for axis in (0, 1)
        )
        self.post_center_range = None if post_center_range is None else [float(v) for v in post_center_range]
        self.score_threshold = score_threshold
        self.code_size = code_size

    def encode(self, boxes: torch.Tensor) -> torch.Tensor:
        """Regression codes `(N, code_size)` of boxes `(N, 9)`; sizes must be positive (their log is coded)."""
        if boxes.dim() != 2 or boxes.shape[1] != BOX_DIM:
            raise ValueError(f"TransFusionBBoxCoder.encode: boxes must be (N, {BOX_DIM}), got {tuple(boxes.shape)}")
        if (boxes[:, 3:6] <= 0).any():
            raise ValueError("TransFusionBBoxCoder.encode: box sizes l, w, h must be positive")
        origin, cell = boxes.new_tensor(self.origin), boxes.new_tensor(self.cell_size)
        yaw = boxes[:, 6:7]
        parts = [(boxes[:, :2] - origin) / cell, boxes[:, 2:3], boxes[:, 3:6].log(), torch.sin(yaw), torch.cos(yaw)]
        if self.code_size == 10:
            parts.append(self._velocity(boxes[:, 7:9], yaw, to_box=True))
        return torch.cat(parts, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Boxes `(..., 9)` from codes `(..., code_size)`; without velocity in the code, velocity is 0."""
        if codes.shape[-1] != self.code_size:
            raise ValueError(
                f"TransFusionBBoxCoder.decode: codes must end in {self.code_size} values, got {tuple(codes.shape)}"
            )
        origin, cell = codes.new_tensor(self.origin), codes.new_tensor(self.cell_size)
        yaw = torch.atan2(codes[..., 6:7], codes[..., 7:8])
        if self.code_size == 10:
            velocity = self._velocity(codes[..., 8:10], yaw, to_box=False)
        else:
            velocity = codes.new_zeros(codes.shape[:-1] + (2,))
        return torch.cat([codes[..., :2] * cell + origin, codes[..., 2:3], codes[..., 3:6].exp(), yaw, velocity], -1)

    def _velocity(self, velocity: torch.Tensor, yaw: torch.Tensor, to_box: bool) -> torch.Tensor:
        """Velocity `(..., 2)` turned into (`to_box`) or out of the frame of boxes heading `yaw` `(..., 1)`."""
        if self.velocity_frame == "lidar":
            return velocity
        cos, sin = torch.cos(yaw), torch.sin(yaw)
        sin = -sin if to_box else sin
        return torch.cat(
            [cos * velocity[..., :1] - sin * velocity[..., 1:], sin * velocity[..., :1] + cos * velocity[..., 1:]], -1
        )

    def keep_mask(self, boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Boolean mask `(...)`: the centre lies in `post_center_range` (bounds included), score >= threshold."""
        keep = torch.ones_like(scores, dtype=torch.bool)
        if self.post_center_range is not None:
            bounds = boxes.new_tensor(self.post_center_range)
            keep &= ((boxes[..., :3] >= bounds[:3]) & (boxes[..., :3] <= bounds[3:])).all(dim=-1)
        if self.score_threshold is not None:
            keep &= scores >= self.score_threshold
        return keep
