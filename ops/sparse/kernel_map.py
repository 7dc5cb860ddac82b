"""Kernel maps: which input row feeds which output row through each kernel offset.

A map is built once per `indice_key` (C++ hash table on CPU, sort + binary search on
CUDA) and reused by every layer that names the key, and by the matching inverse conv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from .._ext import check_device, load_ops

Triple = tuple[int, int, int]


def as_triple(value: int | Sequence[int], name: str) -> Triple:
    """An int or 3 ints (z, y, x) as a 3-tuple."""
    values = (value,) * 3 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != 3:
        raise ValueError(f"sparse conv: {name} must be an int or 3 ints (z, y, x), got {value}")
    return values


def conv_output_shape(
    in_shape: Triple, kernel_size: Triple, stride: Triple, padding: Triple, dilation: Triple
) -> Triple:
    """Spatial shape after a strided conv, as `torch.nn.Conv3d` computes it."""
    shape = tuple(
        (size + 2 * pad - dil * (k - 1) - 1) // step + 1
        for size, k, step, pad, dil in zip(in_shape, kernel_size, stride, padding, dilation)
    )
    if min(shape) < 1:
        raise ValueError(f"sparse conv: input grid {in_shape} is too small for kernel {kernel_size}, got {shape}")
    return shape


@dataclass(frozen=True)
class KernelMap:
    """Pairs `(in_idx[p], out_idx[p])` for `p` in `pair_offsets[k]:pair_offsets[k+1]` use weight slice `k`.

    Each offset's pairs are sorted by output row; `pairs(transposed=True)` gives the same
    pairs sorted by input row (built on first use: backward passes and inverse convs).
    """

    in_indices: torch.Tensor
    out_indices: torch.Tensor
    in_shape: Triple
    out_shape: Triple
    in_idx: torch.Tensor
    out_idx: torch.Tensor
    pair_offsets: tuple[int, ...]
    kernel_size: Triple
    stride: Triple
    padding: Triple
    dilation: Triple
    subm: bool

    @property
    def identity_offset(self) -> int:
        """The centre offset of a submanifold map pairs every row with itself; -1 otherwise."""
        return (len(self.pair_offsets) - 1) // 2 if self.subm else -1

    def pairs(self, transposed: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """`(gather, scatter)` row lists, each offset sorted by scatter row: input->output, or output->input."""
        return self._transposed_pairs if transposed else (self.in_idx, self.out_idx)

    @cached_property
    def _transposed_pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.ops.bevfusion.sparse_sort_pairs(
            self.out_idx, self.in_idx, list(self.pair_offsets), self.in_indices.shape[0]
        )

    def matches_input(self, indices: torch.Tensor) -> bool:
        """True when this map was built for these input sites."""
        return indices is self.in_indices or (
            indices.shape == self.in_indices.shape and torch.equal(indices, self.in_indices)
        )


def build_kernel_map(
    indices: torch.Tensor,
    spatial_shape: Triple,
    batch_size: int,
    kernel_size: Triple,
    stride: Triple,
    padding: Triple,
    dilation: Triple,
    subm: bool,
) -> KernelMap:
    """Output sites and per-offset pairs for one conv over the sites `indices` `(N, 4)` int32."""
    load_ops()
    check_device("sparse_kernel_map", indices)
    if subm:
        if any(k % 2 == 0 for k in kernel_size):
            raise ValueError(f"SubMConv3d: kernel_size must be odd on every axis, got {kernel_size}")
        stride = (1, 1, 1)
        padding = tuple(k // 2 * d for k, d in zip(kernel_size, dilation))
        out_shape = tuple(spatial_shape)
    else:
        out_shape = conv_output_shape(spatial_shape, kernel_size, stride, padding, dilation)
    out_indices, in_idx, out_idx, pair_offsets = torch.ops.bevfusion.sparse_kernel_map(
        indices.contiguous(), list(spatial_shape), list(out_shape), batch_size,
        list(kernel_size), list(stride), list(padding), list(dilation), subm,
    )  # fmt: skip
    return KernelMap(
        in_indices=indices,
        out_indices=indices if subm else out_indices,
        in_shape=tuple(spatial_shape),
        out_shape=out_shape,
        in_idx=in_idx,
        out_idx=out_idx,
        pair_offsets=tuple(pair_offsets.tolist()),
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        subm=subm,
    )
