"""Pure-PyTorch reference for bev_pool: readable, materialises the whole frustum, used by tests."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .geometry import cells_along


def bev_pool_reference(
    depth: torch.Tensor,
    context: torch.Tensor,
    frustum_points: torch.Tensor,
    xbound: Sequence[float],
    ybound: Sequence[float],
    zbound: Sequence[float],
) -> torch.Tensor:
    """Sum `depth x context` of every frustum point into its BEV cell: `(B, nz*C, nx, ny)`.

    depth `(B, N, D, fH, fW)`, context `(B, N, fH, fW, C)`, frustum_points `(B, N, D, fH, fW, 3)`.
    Channel `z*C + c` holds height slice z; cells are `floor((p - min) / step)`.
    """
    batch, channels = depth.shape[0], context.shape[-1]
    num_x, num_y, num_z = cells_along(xbound), cells_along(ybound), cells_along(zbound)
    lower = frustum_points.new_tensor([xbound[0], ybound[0], zbound[0]])
    step = frustum_points.new_tensor([xbound[2], ybound[2], zbound[2]])
    x, y, z = torch.floor((frustum_points - lower) / step).long().unbind(-1)
    inside = (x >= 0) & (x < num_x) & (y >= 0) & (y < num_y) & (z >= 0) & (z < num_z)
    sample = torch.arange(batch, device=depth.device).view(batch, 1, 1, 1, 1).expand_as(inside)

    frustum = depth.unsqueeze(-1) * context.unsqueeze(2)  # (B, N, D, fH, fW, C)
    bev = depth.new_zeros(batch, num_z, num_x, num_y, channels)
    bev.index_put_((sample[inside], z[inside], x[inside], y[inside]), frustum[inside], accumulate=True)
    return bev.permute(0, 1, 4, 2, 3).reshape(batch, num_z * channels, num_x, num_y)
