"""Sparse conv layers that read like `torch.nn`: SubMConv3d, SparseConv3d, SparseInverseConv3d, SparseSequential."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .functional import sparse_conv
from .kernel_map import KernelMap, Triple, as_triple, build_kernel_map
from .tensor import SparseConvTensor


class SparseModule(nn.Module):
    """Marker: the module takes and returns a sparse tensor (SparseSequential passes it whole)."""


class SparseSequential(nn.Sequential, SparseModule):
    """Runs sparse modules on the tensor and every other module (norm, activation) on its features."""

    def forward(self, x):
        for module in self:
            x = module(x) if isinstance(module, SparseModule) else x.replace_feature(module(x.features))
        return x


class _SparseConv3d(SparseModule):
    """Shared parameters and kernel-map caching; subclasses say which map they use."""

    subm = False
    inverse = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        bias: bool = True,
        indice_key: str | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size: Triple = as_triple(kernel_size, "kernel_size")
        self.stride: Triple = as_triple(stride, "stride")
        self.padding: Triple = as_triple(padding, "padding")
        self.dilation: Triple = as_triple(dilation, "dilation")
        self.indice_key = indice_key
        # spconv 2 layout, so spconv checkpoints load unchanged.
        self.weight = nn.Parameter(torch.empty(out_channels, *self.kernel_size, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in +-1/sqrt(fan_in), as torch.nn.Conv3d initialises."""
        bound = 1.0 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}, "
            f"indice_key={self.indice_key!r}"
        )

    def _forward_map(self, x: SparseConvTensor) -> KernelMap:
        """The cached map for `indice_key` when it was built for these sites, else a new one."""
        cached = x.indice_dict.get(self.indice_key) if self.indice_key is not None else None
        if cached is not None and cached.subm == self.subm and cached.matches_input(x.indices):
            if cached.kernel_size != self.kernel_size or cached.dilation != self.dilation:
                raise ValueError(
                    f"{type(self).__name__}: indice_key {self.indice_key!r} holds a map for kernel "
                    f"{cached.kernel_size}, dilation {cached.dilation}; "
                    f"this layer has {self.kernel_size}, {self.dilation}"
                )
            return cached
        kernel_map = build_kernel_map(
            x.indices,
            x.spatial_shape,
            x.batch_size,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.subm,
        )
        if self.indice_key is not None:
            x.indice_dict[self.indice_key] = kernel_map
        return kernel_map

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        kernel_map = self._forward_map(x)
        features = sparse_conv(x.features, self.weight, kernel_map, self.bias)
        return SparseConvTensor(features, kernel_map.out_indices, kernel_map.out_shape, x.batch_size, x.indice_dict)


class SubMConv3d(_SparseConv3d):
    """Submanifold conv: output sites are the input sites (stride 1, centred kernel; padding is ignored)."""

    subm = True


class SparseConv3d(_SparseConv3d):
    """Strided sparse conv: an output site exists wherever an input lies in its receptive field."""


class SparseInverseConv3d(_SparseConv3d):
    """Undoes the SparseConv3d that built `indice_key`: its output sites back to its input sites."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        indice_key: str,
        bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, indice_key=indice_key)

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        kernel_map = x.indice_dict.get(self.indice_key)
        if kernel_map is None or kernel_map.subm:
            raise KeyError(f"SparseInverseConv3d: no SparseConv3d map under indice_key {self.indice_key!r}")
        if kernel_map.kernel_size != self.kernel_size:
            raise ValueError(
                f"SparseInverseConv3d: kernel_size {self.kernel_size} differs from the map's {kernel_map.kernel_size}"
            )
        if x.indices.shape != kernel_map.out_indices.shape:
            raise ValueError(
                f"SparseInverseConv3d: input has {x.indices.shape[0]} sites, the map under {self.indice_key!r} "
                f"produced {kernel_map.out_indices.shape[0]}"
            )
        features = sparse_conv(x.features, self.weight, kernel_map, self.bias, inverse=True)
        return SparseConvTensor(features, kernel_map.in_indices, kernel_map.in_shape, x.batch_size, x.indice_dict)
