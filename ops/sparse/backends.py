"""Sparse-conv backends by name: `native` (this package, always available), `spconv` or `torchsparse`.

A backend supplies the tensor type and the three conv layers; containers and blocks are
ours (`SparseSequential` treats any `SparseModule` as sparse), so one encoder definition
runs on any backend and loads the same spconv-layout weights.

`torchsparse` (>= 2.1, CUDA only, see `torchsparse_adapter`) gives native's results for
what it can express and refuses the rest with NotImplementedError: dilation other than 1,
and a SparseConv3d with stride 1 on every axis (torchsparse runs it as submanifold). It also
refuses a network where two downsamplings reach one tensor stride with different sites.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from . import modules, torchsparse_adapter
from .modules import SparseModule
from .tensor import SparseConvTensor

LAYER_KINDS = ("SubMConv3d", "SparseConv3d", "SparseInverseConv3d")


@dataclass(frozen=True)
class SparseBackend:
    name: str
    tensor: type
    layers: dict[str, type]


def _native() -> SparseBackend:
    return SparseBackend("native", SparseConvTensor, {kind: getattr(modules, kind) for kind in LAYER_KINDS})


def _spconv() -> SparseBackend:
    try:
        spconv = importlib.import_module("spconv.pytorch")
    except ImportError as error:
        raise ImportError(
            "sparse backend 'spconv' needs the spconv package (pip install spconv==2.3.8, or a spconv-cuXXX wheel); "
            "use backend='native' otherwise"
        ) from error
    # Each spconv layer also becomes a SparseModule, so our containers hand it the whole tensor.
    layers = {kind: type(kind, (getattr(spconv, kind), SparseModule), {}) for kind in LAYER_KINDS}
    return SparseBackend("spconv", spconv.SparseConvTensor, layers)


def _torchsparse() -> SparseBackend:
    torchsparse_adapter.load_torchsparse()
    layers = {kind: getattr(torchsparse_adapter, kind) for kind in LAYER_KINDS}
    return SparseBackend("torchsparse", torchsparse_adapter.TorchsparseConvTensor, layers)


_BACKENDS = {"native": _native, "spconv": _spconv, "torchsparse": _torchsparse}


def get_backend(name: str) -> SparseBackend:
    """The backend called `name`; ImportError with install advice when its package is missing."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown sparse backend {name!r}; choose one of {sorted(_BACKENDS)}")
    return _BACKENDS[name]()


def make_sparse_layer(
    kind: str,
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    bias: bool = False,
    indice_key: str | None = None,
    backend: str = "native",
) -> nn.Module:
    """One conv layer (`kind` in LAYER_KINDS) from the chosen backend, spconv 2 weight layout."""
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown sparse layer kind {kind!r}; choose one of {LAYER_KINDS}")
    layer = get_backend(backend).layers[kind]
    if kind == "SparseInverseConv3d":
        return layer(in_channels, out_channels, kernel_size, indice_key=indice_key, bias=bias)
    return layer(
        in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
        bias=bias, indice_key=indice_key,
    )  # fmt: skip
