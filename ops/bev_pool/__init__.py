"""BEV pooling: sum depth x context of every camera frustum point into its BEV cell.

`geometry = bev_pool_geometry(frustum_points, xbound, ybound, zbound)` ranks and sorts the
points once (cache it while the rig and augmentation are unchanged); `bev_pool(depth,
context, geometry)` then runs the C++ or CUDA kernel by device without materialising the
`(B, N, D, fH, fW, C)` frustum, with gradients for depth and context.
"""

from __future__ import annotations

import torch

from .._ext import check_device, load_ops
from .geometry import BEVPoolGeometry, bev_pool_geometry, cells_along
from .reference import bev_pool_reference

__all__ = ["BEVPoolGeometry", "bev_pool", "bev_pool_geometry", "bev_pool_reference", "cells_along"]


class _BEVPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, depth, context, geometry: BEVPoolGeometry):
        out = depth.new_empty(geometry.output_shape(context.shape[-1]))
        torch.ops.bevfusion.bev_pool_forward(
            depth, context, geometry.cell_start, geometry.point_depth_index, geometry.point_context_index, out
        )
        ctx.save_for_backward(depth, context, geometry.point_cell)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        depth, context, point_cell = ctx.saved_tensors
        grad_depth, grad_context = torch.ops.bevfusion.bev_pool_backward(
            grad_out.contiguous(), depth, context, point_cell
        )
        return grad_depth, grad_context, None


def bev_pool(depth: torch.Tensor, context: torch.Tensor, geometry: BEVPoolGeometry) -> torch.Tensor:
    """BEV features `(B, nz*C, nx, ny)`, channel `z*C + c`, from depth and context.

    depth is `(B, N, D, fH, fW)` and context `(B, N, fH, fW, C)`; both must share a float32 or
    float64 dtype and the geometry's device. Cells that receive no point are zero.
    """
    if depth.dim() != 5 or tuple(depth.shape) != geometry.frustum_shape:
        raise ValueError(
            f"bev_pool: depth shape {tuple(depth.shape)} does not match the geometry's {geometry.frustum_shape}"
        )
    batch, cameras, _, height, width = geometry.frustum_shape
    if context.dim() != 5 or tuple(context.shape[:4]) != (batch, cameras, height, width):
        raise ValueError(
            f"bev_pool: context must be (B, N, fH, fW, C) with (B, N, fH, fW) = {(batch, cameras, height, width)}, "
            f"got {tuple(context.shape)}"
        )
    if depth.dtype != context.dtype or depth.dtype not in (torch.float32, torch.float64):
        raise ValueError(
            f"bev_pool: depth and context must share float32 or float64, got {depth.dtype} and {context.dtype}"
        )
    if depth.device != geometry.point_cell.device or context.device != depth.device:
        raise ValueError(
            f"bev_pool: depth ({depth.device}), context ({context.device}) and geometry "
            f"({geometry.point_cell.device}) must share a device"
        )
    load_ops()
    check_device("bev_pool", depth)
    return _BEVPool.apply(depth.contiguous(), context.contiguous(), geometry)
