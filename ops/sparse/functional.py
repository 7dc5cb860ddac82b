"""Gather-GEMM-scatter execution of a kernel map, with autograd."""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .._ext import check_device, load_ops
from .kernel_map import KernelMap


class _GatherMMScatter(torch.autograd.Function):
    """out[scatter[p]] += features[gather[p]] @ weight[k] for each offset k and its pairs p.

    Runs `kernel_map` forwards (input sites to output sites) or, with `inverse`, backwards.
    """

    @staticmethod
    def forward(ctx, features, weight, kernel_map, inverse):
        ctx.save_for_backward(features, weight)
        ctx.kernel_map, ctx.inverse = kernel_map, inverse
        gather, scatter = kernel_map.pairs(transposed=inverse)
        num_out = (kernel_map.in_indices if inverse else kernel_map.out_indices).shape[0]
        return torch.ops.bevfusion.sparse_gather_mm_scatter(
            features, weight, gather, scatter, list(kernel_map.pair_offsets), num_out, kernel_map.identity_offset
        )

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        features, weight = ctx.saved_tensors
        kernel_map, offsets = ctx.kernel_map, list(ctx.kernel_map.pair_offsets)
        grad_out = grad_out.contiguous()
        grad_features = grad_weight = None
        if ctx.needs_input_grad[0]:
            gather, scatter = kernel_map.pairs(transposed=not ctx.inverse)
            grad_features = torch.ops.bevfusion.sparse_gather_mm_scatter(
                grad_out, weight.transpose(1, 2).contiguous(), gather, scatter, offsets, features.shape[0],
                kernel_map.identity_offset,
            )  # fmt: skip
        if ctx.needs_input_grad[1]:
            feature_rows, grad_rows = kernel_map.pairs(transposed=ctx.inverse)
            grad_weight = torch.ops.bevfusion.sparse_weight_grad(features, grad_out, feature_rows, grad_rows, offsets)
        return grad_features, grad_weight, None, None


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
    out = _GatherMMScatter.apply(features.contiguous(), weight_kio, kernel_map, inverse)
    return out if bias is None else out + bias
