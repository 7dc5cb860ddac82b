"""Dense PyTorch references for the sparse convs: readable, slow, used by tests.

Each densifies the input, runs `torch.nn.functional.conv3d` (or `conv_transpose3d`) with
the spconv-layout weight permuted to torch's, and reads the result at the output sites.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .kernel_map import Triple
from .tensor import SparseConvTensor


def _torch_weight(weight: torch.Tensor) -> torch.Tensor:
    """spconv `(out, kz, ky, kx, in)` -> torch conv `(out, in, kz, ky, kx)`."""
    return weight.permute(0, 4, 1, 2, 3)


def _at_sites(dense: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
    sites = sites.long()
    return dense.permute(0, 2, 3, 4, 1)[sites[:, 0], sites[:, 1], sites[:, 2], sites[:, 3]]


def subm_conv3d_reference(x: SparseConvTensor, weight: torch.Tensor, dilation: Triple = (1, 1, 1)) -> torch.Tensor:
    """Submanifold conv features at the input sites, `(N, C_out)`."""
    padding = tuple(k // 2 * d for k, d in zip(weight.shape[1:4], dilation))
    dense = F.conv3d(x.dense(), _torch_weight(weight), padding=padding, dilation=dilation)
    return _at_sites(dense, x.indices)


def sparse_conv3d_reference(
    x: SparseConvTensor, weight: torch.Tensor, stride: Triple, padding: Triple, dilation: Triple = (1, 1, 1)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Strided conv: `(sites (M, 4) sorted by (b, z, y, x), features (M, C_out))`.

    A site is active where the all-ones kernel over the occupancy grid is positive.
    """
    kernel = weight.shape[1:4]
    occupancy = x.replace_feature(torch.ones_like(x.features[:, :1])).dense()
    reach = F.conv3d(occupancy, occupancy.new_ones(1, 1, *kernel), stride=stride, padding=padding, dilation=dilation)
    sites = (reach[:, 0] > 0).nonzero().int()
    dense = F.conv3d(x.dense(), _torch_weight(weight), stride=stride, padding=padding, dilation=dilation)
    return sites, _at_sites(dense, sites)


def sparse_inverse_conv3d_reference(
    x: SparseConvTensor,
    weight: torch.Tensor,
    target_sites: torch.Tensor,
    target_shape: Triple,
    stride: Triple,
    padding: Triple,
    dilation: Triple = (1, 1, 1),
) -> torch.Tensor:
    """Inverse of a strided conv (a transposed conv) read at the strided conv's input sites."""
    kernel = weight.shape[1:4]
    natural = [
        (o - 1) * s - 2 * p + d * (k - 1) + 1
        for o, s, p, d, k in zip(x.spatial_shape, stride, padding, dilation, kernel)
    ]
    output_padding = [t - n for t, n in zip(target_shape, natural)]
    dense = F.conv_transpose3d(
        x.dense(), weight.permute(4, 0, 1, 2, 3), stride=stride, padding=padding,
        output_padding=output_padding, dilation=dilation,
    )  # fmt: skip
    return _at_sites(dense, target_sites)
