"""Random sparse inputs shared by the sparse-conv tests."""

from __future__ import annotations

import math

import torch

from bevfusion.ops.sparse import SparseConvTensor


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
