"""Random sparse inputs and the layer chain shared by the sparse-conv tests."""

from __future__ import annotations

import math

import torch

from bevfusion.ops.sparse import SparseConvTensor

# A chain of every layer kind that backends are compared on: SubM (cubic and flat kernels),
# strided with padding, its inverse by indice_key, anisotropic and even-kernel strides.
LAYER_CHAIN = [
    ("SubMConv3d", dict(in_channels=4, out_channels=8, kernel_size=3, indice_key="subm1")),
    ("SparseConv3d", dict(in_channels=8, out_channels=16, kernel_size=3, stride=2, padding=1, indice_key="down")),
    ("SubMConv3d", dict(in_channels=16, out_channels=16, kernel_size=(3, 1, 3), indice_key="subm2")),
    ("SparseInverseConv3d", dict(in_channels=16, out_channels=8, kernel_size=3, indice_key="down")),
    ("SparseConv3d", dict(in_channels=8, out_channels=8, kernel_size=(3, 1, 1), stride=(2, 1, 1), padding=0)),
    ("SparseConv3d", dict(in_channels=8, out_channels=4, kernel_size=2, stride=2, padding=(0, 1, 1))),
]


def random_sites(generator: torch.Generator, count: int, shape: tuple[int, int, int], batch_size: int) -> torch.Tensor:
    """`count` distinct `(batch, z, y, x)` int32 sites in random order."""
    keys = torch.randperm(batch_size * math.prod(shape), generator=generator)[:count]
    sites = []
    for size in reversed(shape):
        sites.append(keys % size)
        keys = keys // size
    sites.append(keys)
    return torch.stack(sites[::-1], dim=1).int()


def random_tensor(
    generator: torch.Generator,
    count: int,
    shape: tuple[int, int, int],
    channels: int,
    batch_size: int = 2,
    dtype: torch.dtype = torch.float64,
) -> SparseConvTensor:
    features = torch.randn(count, channels, generator=generator, dtype=dtype)
    return SparseConvTensor(features, random_sites(generator, count, shape, batch_size), shape, batch_size)


def random_weight(generator: torch.Generator, out_channels: int, kernel, in_channels: int, dtype=torch.float64):
    """spconv-layout weight `(out, kz, ky, kx, in)`."""
    return torch.randn(out_channels, *kernel, in_channels, generator=generator, dtype=dtype)
