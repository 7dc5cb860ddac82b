"""Gather-GEMM-scatter execution of a kernel map, with autograd."""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .._ext import check_device, load_ops
from .kernel_map import KernelMap


class _GatherMMScatter(torch.autograd.Function):
    """out[scatter[p]] += features[gather[p]] @ weight[k] for each offset k and its pairs p."""

    @staticmethod
    def forward(ctx, features, weight, gather_idx, scatter_idx, pair_offsets, num_out, identity_offset):
        ctx.save_for_backward(features, weight, gather_idx, scatter_idx)
        ctx.pair_offsets = pair_offsets
        ctx.identity_offset = identity_offset
        return torch.ops.bevfusion.sparse_gather_mm_scatter(
            features, weight, gather_idx, scatter_idx, pair_offsets, num_out, identity_offset
        )

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        features, weight, gather_idx, scatter_idx = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_features = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_features = torch.ops.bevfusion.sparse_gather_mm_scatter(
                grad_out, weight.transpose(1, 2).contiguous(), scatter_idx, gather_idx,
                ctx.pair_offsets, features.shape[0], ctx.identity_offset,
            )  # fmt: skip
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.bevfusion.sparse_weight_grad(
                features, grad_out, gather_idx, scatter_idx, ctx.pair_offsets
            )
        return grad_features, grad_weight, None, None, None, None, None


def sparse_conv(
    features: torch.Tensor,
    weight: torch.Tensor,
    kernel_map: KernelMap,
    bias: torch.Tensor | None = None,
    inverse: bool = False,
) -> torch.Tensor:
    """Apply a conv with spconv-layout `weight` `(out, kz, ky, kx, in)` along `kernel_map`.

    `inverse=True` runs the map backwards (output sites to input sites): the inverse conv.
    """
    load_ops()
    check_device("sparse_conv", features, weight)
    out_channels, in_channels = weight.shape[0], weight.shape[-1]
    if features.shape[1] != in_channels:
        raise ValueError(f"sparse conv: features have {features.shape[1]} channels, weight expects {in_channels}")
    if features.dtype != weight.dtype:
        raise ValueError(f"sparse conv: features are {features.dtype} but weight is {weight.dtype}")
    weight_kio = weight.reshape(out_channels, -1, in_channels).permute(1, 2, 0).contiguous()
    if inverse:
        gather_idx, scatter_idx, num_out = kernel_map.out_idx, kernel_map.in_idx, kernel_map.in_indices.shape[0]
    else:
        gather_idx, scatter_idx, num_out = kernel_map.in_idx, kernel_map.out_idx, kernel_map.out_indices.shape[0]
    out = _GatherMMScatter.apply(
        features.contiguous(), weight_kio, gather_idx, scatter_idx,
        list(kernel_map.pair_offsets), num_out, kernel_map.identity_offset,
    )  # fmt: skip
    return out if bias is None else out + bias
