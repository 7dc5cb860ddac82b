"""The cacheable half of bev_pool: which BEV cell every frustum point falls in, sorted by cell.

The geometry depends only on the frustum points (camera rig, image and LiDAR augmentation)
and the grid, not on the features, so inference computes it once and reuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._ext import load_ops

INT32_MAX = torch.iinfo(torch.int32).max


def cells_along(bound: Sequence[float], name: str = "bound") -> int:
    """Number of cells of a `(min, max, step)` grid axis, as in BEVFusion's xbound/ybound/zbound."""
    if len(bound) != 3:
        raise ValueError(f"bev_pool: {name} must be (min, max, step), got {tuple(bound)}")
    low, high, step = (float(v) for v in bound)
    if not step > 0 or not high > low:
        raise ValueError(f"bev_pool: {name} needs max > min and step > 0, got {tuple(bound)}")
    return round((high - low) / step)


@dataclass(frozen=True, eq=False)
class BEVPoolGeometry:
    """Index tensors for one frustum and grid; reusable while the rig and augmentation are unchanged.

    Cell rank r = ((b * nz + z) * nx + x) * ny + y. All index tensors are int32.

    - `cell_start` `(B*nz*nx*ny + 1,)`: CSR offsets, the points of cell r are
      `[cell_start[r], cell_start[r + 1])` in the two arrays below.
    - `point_depth_index` `(P,)`: flat index into depth `(B, N, D, fH, fW)` of each kept point, sorted by rank.
    - `point_context_index` `(P,)`: flat pixel index into context rows `(B*N*fH*fW, C)` of the same points.
    - `point_cell` `(B*N*D*fH*fW,)`: rank of every frustum point in depth order, -1 when outside
      the grid (the pixel-ordered view that the backward pass uses without write races).
    """

    cell_start: torch.Tensor
    point_depth_index: torch.Tensor
    point_context_index: torch.Tensor
    point_cell: torch.Tensor
    frustum_shape: tuple[int, int, int, int, int]
    grid_shape: tuple[int, int, int]

    @property
    def num_points(self) -> int:
        """Frustum points that land inside the grid."""
        return self.point_depth_index.numel()

    def output_shape(self, channels: int) -> tuple[int, int, int, int]:
        """`(B, nz*C, nx, ny)`: z is folded into channels as `z*C + c`, as in the reference BEVFusion."""
        num_z, num_x, num_y = self.grid_shape
        return (self.frustum_shape[0], num_z * channels, num_x, num_y)

    def to(self, device: torch.device | str) -> BEVPoolGeometry:
        return BEVPoolGeometry(
            self.cell_start.to(device),
            self.point_depth_index.to(device),
            self.point_context_index.to(device),
            self.point_cell.to(device),
            self.frustum_shape,
            self.grid_shape,
        )


def bev_pool_geometry(
    frustum_points: torch.Tensor,
    xbound: Sequence[float],
    ybound: Sequence[float],
    zbound: Sequence[float],
) -> BEVPoolGeometry:
    """Rank, sort and interval the frustum points `(B, N, D, fH, fW, 3)` (LiDAR-frame xyz).

    A point lands in cell `floor((p - min) / step)` per axis (floor, so points just below the
    grid's lower edge are dropped rather than truncated into cell 0); points outside the grid
    are dropped. CPU tensors are ranked and counting-sorted by a C++ kernel, others by PyTorch.
    """
    if frustum_points.dim() != 6 or frustum_points.shape[-1] != 3:
        raise ValueError(
            f"bev_pool_geometry: frustum_points must be (B, N, D, fH, fW, 3), got {tuple(frustum_points.shape)}"
        )
    if not frustum_points.is_floating_point():
        raise ValueError(f"bev_pool_geometry: frustum_points must be floating point, got {frustum_points.dtype}")
    if frustum_points[..., 0].numel() > INT32_MAX:
        raise ValueError("bev_pool_geometry: more frustum points than int32 indices can address")
    batch, cameras, depth_bins, height, width, _ = frustum_points.shape
    num_x, num_y, num_z = (cells_along(b, n) for b, n in ((xbound, "xbound"), (ybound, "ybound"), (zbound, "zbound")))
    num_cells = batch * num_z * num_x * num_y
    if num_cells >= INT32_MAX:
        raise ValueError(f"bev_pool_geometry: {num_cells} BEV cells exceed int32 indices")
    lower = (float(xbound[0]), float(ybound[0]), float(zbound[0]))
    step = (float(xbound[2]), float(ybound[2]), float(zbound[2]))
    cells = (num_x, num_y, num_z)
    if frustum_points.device.type == "cpu":
        load_ops()
        tensors = torch.ops.bevfusion.bev_pool_geometry(frustum_points, lower, step, cells)
    else:
        tensors = geometry_tensors_torch(frustum_points, lower, step, cells)
    cell_start, point_depth_index, point_context_index, point_cell = tensors
    return BEVPoolGeometry(
        cell_start=cell_start,
        point_depth_index=point_depth_index,
        point_context_index=point_context_index,
        point_cell=point_cell,
        frustum_shape=(batch, cameras, depth_bins, height, width),
        grid_shape=(num_z, num_x, num_y),
    )


def geometry_tensors_torch(
    frustum_points: torch.Tensor,
    lower: tuple[float, float, float],
    step: tuple[float, float, float],
    cells: tuple[int, int, int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(cell_start, point_depth_index, point_context_index, point_cell)` in plain PyTorch.

    CUDA tensors take this path (the GPU sorts fast); on CPU the C++ counting sort computes the
    same tensors, and this is its reference. Axes are (x, y, z) in `lower`, `step`, `cells`.
    """
    batch, _, depth_bins, height, width, _ = frustum_points.shape
    num_x, num_y, num_z = cells
    num_cells = batch * num_z * num_x * num_y
    device = frustum_points.device
    lower_tensor = torch.tensor(lower, dtype=frustum_points.dtype, device=device)
    step_tensor = torch.tensor(step, dtype=frustum_points.dtype, device=device)
    size = torch.tensor(cells, dtype=frustum_points.dtype, device=device)
    cell = torch.floor((frustum_points - lower_tensor) / step_tensor).reshape(batch, -1, 3)
    inside = ((cell >= 0) & (cell < size)).all(-1)
    # Out-of-grid (even non-finite) coordinates give meaningless ranks here; `inside` drops them.
    x, y, z = cell.to(torch.int32).unbind(-1)
    sample = torch.arange(batch, dtype=torch.int32, device=device).view(batch, 1)
    rank = ((sample * num_z + z) * num_x + x) * num_y + y
    point_cell = torch.where(inside, rank, -1).reshape(-1)

    kept = torch.nonzero(point_cell >= 0).squeeze(1)
    rank, order = torch.sort(point_cell[kept], stable=True)
    point_depth_index = kept[order]
    image_cells = height * width
    point_context_index = (
        point_depth_index // (depth_bins * image_cells) * image_cells + point_depth_index % image_cells
    )
    cell_start = torch.zeros(num_cells + 1, dtype=torch.int32, device=device)
    cell_start[1:] = torch.cumsum(torch.bincount(rank, minlength=num_cells), 0)
    return cell_start, point_depth_index.to(torch.int32), point_context_index.to(torch.int32), point_cell
