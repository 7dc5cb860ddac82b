"""3D boxes in the LiDAR frame: the one class that owns every box conversion.

A box is a row `x, y, z, l, w, h, yaw, vx, vy`:
- `z` is the gravity centre (not the bottom);
- `l` runs along the heading, `w` across it;
- `yaw` is measured from +x toward +y, wrapped to [-pi, pi);
- velocity is in m/s in the same frame.

Corner order (local frame, before rotation): the bottom face counter-clockwise seen from
above starting at front-right, then the top face in the same order:
    0 (+l/2, -w/2, -h/2)  1 (+l/2, +w/2, -h/2)  2 (-l/2, +w/2, -h/2)  3 (-l/2, -w/2, -h/2)
    4..7: the same with +h/2.
`bev_corners` are corners 0..3 in x, y: a counter-clockwise polygon.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

BOX_DIM = 9

# Unit corner offsets in the order documented above, as fractions of (l, w, h).
_UNIT_CORNERS = torch.tensor(
    [
        [0.5, -0.5, -0.5],
        [0.5, 0.5, -0.5],
        [-0.5, 0.5, -0.5],
        [-0.5, -0.5, -0.5],
        [0.5, -0.5, 0.5],
        [0.5, 0.5, 0.5],
        [-0.5, 0.5, 0.5],
        [-0.5, -0.5, 0.5],
    ]
)


def wrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """Wrap angles to [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


class LiDARBoxes:
    """A batch of gravity-centre boxes `(N, 9)` in the LiDAR frame of one key frame."""

    def __init__(self, tensor: torch.Tensor | np.ndarray | Sequence) -> None:
        tensor = torch.as_tensor(tensor, dtype=torch.float32 if not torch.is_tensor(tensor) else None)
        if tensor.numel() == 0:
            tensor = tensor.reshape(0, BOX_DIM).float()
        if tensor.dim() != 2 or tensor.shape[1] != BOX_DIM:
            raise ValueError(f"LiDARBoxes expects shape (N, {BOX_DIM}), got {tuple(tensor.shape)}")
        if not tensor.is_floating_point():
            tensor = tensor.float()
        self.tensor = tensor

    # ----------------------------------------------------------------- basic access
    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __getitem__(self, index) -> LiDARBoxes:
        return LiDARBoxes(self.tensor[index].reshape(-1, BOX_DIM))

    def __repr__(self) -> str:
        return f"LiDARBoxes(n={len(self)}, dtype={self.tensor.dtype}, device={self.tensor.device})"

    def clone(self) -> LiDARBoxes:
        return LiDARBoxes(self.tensor.clone())

    def to(self, *args, **kwargs) -> LiDARBoxes:
        return LiDARBoxes(self.tensor.to(*args, **kwargs))

    @property
    def center(self) -> torch.Tensor:
        """Gravity centres `(N, 3)`."""
        return self.tensor[:, 0:3]

    @property
    def dims(self) -> torch.Tensor:
        """Sizes `(N, 3)` as `l, w, h`."""
        return self.tensor[:, 3:6]

    @property
    def yaw(self) -> torch.Tensor:
        return self.tensor[:, 6]

    @property
    def velocity(self) -> torch.Tensor:
        """Velocities `(N, 2)` in m/s."""
        return self.tensor[:, 7:9]

    @property
    def bottom_center(self) -> torch.Tensor:
        bottom = self.center.clone()
        bottom[:, 2] -= self.dims[:, 2] / 2
        return bottom

    # ----------------------------------------------------------------- geometry
    def _rotation_2d(self) -> torch.Tensor:
        """Per-box rotation `(N, 2, 2)` from the box frame to the LiDAR frame."""
        cos, sin = torch.cos(self.yaw), torch.sin(self.yaw)
        return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)

    @property
    def corners(self) -> torch.Tensor:
        """Corners `(N, 8, 3)` in the documented order."""
        local = _UNIT_CORNERS.to(self.tensor) * self.dims[:, None, :]
        xy = torch.einsum("nij,nkj->nki", self._rotation_2d(), local[..., :2])
        return torch.cat([xy, local[..., 2:]], -1) + self.center[:, None, :]

    @property
    def bev_corners(self) -> torch.Tensor:
        """BEV footprint `(N, 4, 2)`, counter-clockwise."""
        return self.corners[:, :4, :2]

    def points_in_boxes(self, points: torch.Tensor) -> torch.Tensor:
        """Boolean mask `(P, N)`: point p lies inside box n (faces included).

        Uses the native op (CPU or CUDA by device); see `bevfusion.ops.box3d`.
        """
        from bevfusion.ops.box3d import points_in_boxes

        return points_in_boxes(points[:, :3].contiguous(), self.tensor[:, :7].contiguous())

    # ----------------------------------------------------------------- transforms
    def rotate(self, angle: float) -> LiDARBoxes:
        """Rotate about the LiDAR z axis by `angle` (radians, +x toward +y)."""
        return self.transform(rotation_z_matrix(angle))

    def flip(self, axis: str = "horizontal") -> LiDARBoxes:
        """Mirror in BEV: `horizontal` negates y (flips left/right), `vertical` negates x."""
        return self.transform(flip_matrix(axis))

    def scale(self, factor: float) -> LiDARBoxes:
        """Scale positions, sizes and velocities uniformly about the origin."""
        return self.transform(scale_matrix(factor))

    def translate(self, offset: Sequence[float] | torch.Tensor) -> LiDARBoxes:
        boxes = self.clone()
        boxes.tensor[:, :3] += torch.as_tensor(offset, dtype=self.tensor.dtype, device=self.tensor.device)
        return boxes

    def transform(self, matrix: torch.Tensor | np.ndarray) -> LiDARBoxes:
        """Apply a 4x4 similarity that keeps z vertical (rotation about z, flip, scale, shift).

        Velocities follow the linear part, as points moving with the box would.
        """
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
        linear, shift = matrix[:3, :3], matrix[:3, 3]
        if linear[2, :2].abs().max() > 1e-6 or linear[:2, 2].abs().max() > 1e-6:
            raise ValueError("LiDARBoxes.transform: the matrix must keep the z axis vertical")
        scale = abs(float(torch.linalg.det(linear))) ** (1.0 / 3.0)
        data = self.tensor.double()
        center = data[:, :3] @ linear.T + shift
        heading = torch.stack([torch.cos(data[:, 6]), torch.sin(data[:, 6])], -1) @ linear[:2, :2].T
        velocity = data[:, 7:9] @ linear[:2, :2].T
        out = torch.cat([center, data[:, 3:6] * scale, torch.atan2(heading[:, 1], heading[:, 0])[:, None], velocity], 1)
        out[:, 6] = wrap_angle(out[:, 6])
        return LiDARBoxes(out.to(self.tensor.dtype))

    # ----------------------------------------------------------------- nuScenes devkit
    def to_devkit(self, lidar2ego: np.ndarray, ego2global: np.ndarray, labels=None, scores=None, names=None):
        """Boxes as nuscenes-devkit `Box` objects in the global frame.

        `lidar2ego` and `ego2global` are 4x4 homogeneous matrices.
        """
        from nuscenes.utils.data_classes import Box
        from pyquaternion import Quaternion

        boxes = []
        data = self.tensor.detach().cpu().double().numpy()
        for i, (x, y, z, length, width, height, yaw, vx, vy) in enumerate(data):
            box = Box(
                [x, y, z],
                [width, length, height],
                Quaternion(axis=[0, 0, 1], radians=yaw),
                label=np.nan if labels is None else int(labels[i]),
                score=float("nan") if scores is None else float(scores[i]),
                velocity=(vx, vy, 0.0),
                name=None if names is None else names[i],
            )
            for matrix in (lidar2ego, ego2global):
                box.rotate(Quaternion(matrix=_orthonormal(matrix[:3, :3])))
                box.translate(np.asarray(matrix)[:3, 3])
            boxes.append(box)
        return boxes

    @classmethod
    def from_devkit(
        cls, boxes: Sequence, lidar2ego: np.ndarray, ego2global: np.ndarray, unknown_velocity: float = 0.0
    ) -> LiDARBoxes:
        """Boxes from devkit `Box` objects in the global frame.

        The devkit reports NaN velocity when a box has no neighbouring annotation; such
        components become `unknown_velocity`.
        """
        from pyquaternion import Quaternion

        rows = []
        for source in boxes:
            box = source.copy()
            for matrix in (ego2global, lidar2ego):
                box.translate(-np.asarray(matrix)[:3, 3])
                box.rotate(Quaternion(matrix=_orthonormal(matrix[:3, :3])).inverse)
            heading = box.orientation.rotation_matrix[:, 0]
            velocity = np.nan_to_num(box.velocity[:2], nan=unknown_velocity)
            width, length, height = box.wlh
            rows.append([*box.center, length, width, height, math.atan2(heading[1], heading[0]), *velocity])
        tensor = torch.tensor(rows, dtype=torch.float64).reshape(-1, BOX_DIM)
        tensor[:, 6] = wrap_angle(tensor[:, 6])
        return cls(tensor.float())

    # ----------------------------------------------------------------- mmdetection3d v2 info
    def to_info(self) -> list[dict]:
        """Per-box `bbox_3d` (gravity centre, 7 values) and `velocity` as in mmdet3d v2 infos."""
        data = self.tensor.detach().cpu().double().tolist()
        return [{"bbox_3d": row[:7], "velocity": row[7:9]} for row in data]

    @classmethod
    def from_info(cls, instances: Sequence[dict]) -> LiDARBoxes:
        """Boxes from mmdet3d v2 `instances` (`bbox_3d` gravity centre, optional `velocity`).

        NaN velocities, which mmdet3d's converter keeps for unknown motion, become 0.
        """
        rows = []
        for index, instance in enumerate(instances):
            bbox = list(instance["bbox_3d"])
            if len(bbox) != 7:
                raise ValueError(f"instances[{index}].bbox_3d: expected 7 values, got {len(bbox)}")
            velocity = list(instance.get("velocity", [0.0, 0.0]))[:2]
            rows.append(bbox + velocity)
        tensor = torch.tensor(rows, dtype=torch.float32).reshape(-1, BOX_DIM)
        tensor[:, 7:9] = torch.nan_to_num(tensor[:, 7:9], nan=0.0)
        return cls(tensor)

    # ----------------------------------------------------------------- pre-1.0 ("SECOND") rows
    @classmethod
    def from_second_format(
        cls, rows: np.ndarray | Sequence, velocity: np.ndarray | Sequence | None = None
    ) -> LiDARBoxes:
        """Boxes from pre-1.0 rows `x, y, z, w, l, h, yaw_old` (mmdetection3d < 1.0, MIT HAN Lab's bevfusion).

        Those converters write `[devkit centre, devkit wlh, -yaw - pi/2]` ("convert rot to
        SECOND format"): the first size runs across the heading, and the angle is measured from
        -y, clockwise. `z` is taken as given. `velocity` `(N, 2)` (default 0) is kept as is,
        NaN included.
        """
        data = torch.as_tensor(np.asarray(rows, dtype=np.float64)).reshape(-1, 7)
        motion = torch.zeros(len(data), 2, dtype=torch.float64)
        if velocity is not None:
            motion = torch.as_tensor(np.asarray(velocity, dtype=np.float64)).reshape(-1, 2)
        yaw = wrap_angle(-data[:, 6:7] - math.pi / 2)
        return cls(torch.cat([data[:, :3], data[:, [4, 3, 5]], yaw, motion], 1).float())

    def to_second_format(self) -> np.ndarray:
        """Rows `x, y, z, w, l, h, -yaw - pi/2` `(N, 7)` float64, as the pre-1.0 converters write them."""
        data = self.tensor.detach().cpu().double()
        return torch.cat([data[:, :3], data[:, [4, 3, 5]], -data[:, 6:7] - math.pi / 2], 1).numpy()


def _orthonormal(rotation: np.ndarray) -> np.ndarray:
    """Nearest rotation matrix (pyquaternion rejects matrices off by float noise)."""
    u, _, vt = np.linalg.svd(np.asarray(rotation, dtype=np.float64))
    return u @ vt


def rotation_z_matrix(angle: float) -> torch.Tensor:
    """4x4 rotation about z by `angle` (radians, +x toward +y)."""
    matrix = torch.eye(4, dtype=torch.float64)
    cos, sin = math.cos(angle), math.sin(angle)
    matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1] = cos, -sin, sin, cos
    return matrix


def flip_matrix(axis: str) -> torch.Tensor:
    """4x4 BEV mirror: `horizontal` negates y, `vertical` negates x."""
    if axis not in ("horizontal", "vertical"):
        raise ValueError(f"flip axis must be 'horizontal' or 'vertical', got {axis!r}")
    matrix = torch.eye(4, dtype=torch.float64)
    negated = 1 if axis == "horizontal" else 0
    matrix[negated, negated] = -1.0
    return matrix


def scale_matrix(factor: float) -> torch.Tensor:
    """4x4 uniform scale about the origin."""
    matrix = torch.eye(4, dtype=torch.float64)
    matrix[0, 0] = matrix[1, 1] = matrix[2, 2] = factor
    return matrix
