"""The three sparse-conv layers run by torchsparse 2.1's CUDA kernels under our (spconv) contract.

Layers keep spconv 2's weight `(out, kz, ky, kx, in)` (a native state_dict loads unchanged)
and hand torchsparse `(kernel volume, in, out)`: for odd kernels torchsparse enumerates
offsets first axis fastest, so the kernel axes are reversed before flattening; for even
kernels its order is spconv's. Sites stay `(batch, z, y, x)`, batch first as torchsparse 2.1
expects. Kernel maps use torchsparse's 'spconv' downsampling, which gives the output sites,
grid and pairs of spconv's strided conv with padding.

torchsparse caches maps by tensor stride, not by `indice_key`, so the adapter rebuilds every
strided map, keeps it under its `indice_key` for the inverse conv, drops torchsparse's
per-stride hash tables before each conv, and refuses two different site sets at one stride.
What torchsparse cannot express is refused at construction (dilation, stride-1 SparseConv3d).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch

from . import modules
from .kernel_map import Triple
from .tensor import SparseConvTensor

INSTALL_ADVICE = (
    "sparse backend 'torchsparse' needs torchsparse >= 2.1 (not on PyPI: pip install "
    "git+https://github.com/mit-han-lab/torchsparse.git) on a CUDA build of PyTorch with a visible GPU, "
    "because torchsparse 2.1 builds its kernel maps with CUDA only; use backend='native' otherwise"
)
UNIT: Triple = (1, 1, 1)


def load_torchsparse() -> SimpleNamespace:
    """torchsparse's pieces the layers use; ImportError with advice when it is absent, too old or has no GPU."""
    try:
        torchsparse = importlib.import_module("torchsparse")
        conv3d = importlib.import_module("torchsparse.nn.functional").conv3d
        conv_config = importlib.import_module("torchsparse.nn.functional.conv.conv_config")
        tensor_cache = importlib.import_module("torchsparse.utils.tensor_cache")
    # torchsparse 2.1 queries the GPU while importing: AssertionError/RuntimeError without one.
    except (ImportError, AssertionError, RuntimeError) as error:
        raise ImportError(f"{INSTALL_ADVICE} (importing torchsparse failed: {error})") from error
    version = getattr(torchsparse, "__version__", "0")
    if tuple(int(part) for part in version.split(".")[:2] if part.isdigit()) < (2, 1):
        raise ImportError(f"{INSTALL_ADVICE} (found torchsparse {version})")
    return SimpleNamespace(
        SparseTensor=torchsparse.SparseTensor,
        conv3d=conv3d,
        conv_config=conv_config,
        TensorCache=tensor_cache.TensorCache,
    )


@dataclass
class _SharedCache:
    """torchsparse's TensorCache (sites and kernel maps per tensor stride), shared by all tensors of one input."""

    caches: Any = None


@dataclass(frozen=True)
class _StridedMap:
    """A SparseConv3d's torchsparse map, kept under its `indice_key` for the matching inverse conv."""

    key: tuple
    kmap: dict
    num_out: int


class TorchsparseConvTensor(SparseConvTensor):
    """Our sparse tensor plus the torchsparse tensor stride of its sites and the shared torchsparse cache."""

    def __init__(
        self,
        features: torch.Tensor,
        indices: torch.Tensor,
        spatial_shape: Sequence[int],
        batch_size: int,
        indice_dict: dict[str, Any] | None = None,
        tensor_stride: Triple = UNIT,
        shared: _SharedCache | None = None,
    ) -> None:
        super().__init__(features, indices, spatial_shape, batch_size, indice_dict)
        self.tensor_stride = tuple(tensor_stride)
        self.shared = _SharedCache() if shared is None else shared

    def replace_feature(self, features: torch.Tensor) -> TorchsparseConvTensor:
        return self._derive(features, self.indices, self.spatial_shape, self.tensor_stride)

    def _derive(self, features, indices, spatial_shape, tensor_stride) -> TorchsparseConvTensor:
        return TorchsparseConvTensor(
            features, indices, spatial_shape, self.batch_size, self.indice_dict, tensor_stride, self.shared
        )

    def to_torchsparse(self, ts: SimpleNamespace, layer: str):
        """The torchsparse tensor for one conv call, on the shared cache."""
        check_features(self.features, layer)
        if self.shared.caches is None:
            self.shared.caches = ts.TensorCache()
        caches = self.shared.caches
        # Hash tables are filed under the wrong stride after a downsampling; a map built without
        # one builds its own from the right sites, and built maps stay cached.
        caches.hashmaps.clear()
        spatial_range = (self.batch_size, *self.spatial_shape)
        caches.cmaps.setdefault(self.tensor_stride, (self.indices, spatial_range))
        tensor = ts.SparseTensor(self.features, self.indices, stride=self.tensor_stride, spatial_range=spatial_range)
        tensor._caches = caches
        return tensor

    def from_torchsparse(self, tensor, layer: str) -> TorchsparseConvTensor:
        """Our tensor for a torchsparse conv's output; one site set per stride, as torchsparse's caches assume."""
        known = self.shared.caches.cmaps.get(tensor.stride)
        if known is not None and known[0] is not tensor.coords and not torch.equal(known[0], tensor.coords):
            raise ValueError(
                f"{layer}: torchsparse caches kernel maps by tensor stride, and stride {tensor.stride} already holds "
                "other sites (two downsamplings reach the same stride); use backend='native' for this network"
            )
        return self._derive(tensor.feats, tensor.coords, tensor.spatial_range[1:], tensor.stride)


def check_features(features: torch.Tensor, layer: str) -> None:
    """torchsparse 2.1 maps and convolves on CUDA only, in float16 or float32."""
    if not features.is_cuda:
        raise ValueError(f"{layer}: torchsparse runs on CUDA tensors only; features are on {features.device}")
    if features.dtype not in (torch.float16, torch.float32):
        raise ValueError(f"{layer}: torchsparse takes float16 or float32 features, got {features.dtype}")


def torchsparse_weight(weight: torch.Tensor, flat_1x1: bool) -> torch.Tensor:
    """spconv `(out, kz, ky, kx, in)` -> torchsparse `(volume, in, out)`, or `(in, out)` for its 1x1x1 matmul."""
    out_channels, *kernel, in_channels = weight.shape
    if all(size % 2 for size in kernel):
        weight = weight.permute(0, 3, 2, 1, 4)
    weight = weight.reshape(out_channels, -1, in_channels).permute(1, 2, 0)
    return weight[0] if flat_1x1 else weight


def _conv_config(ts: SimpleNamespace):
    """The user's torchsparse config (or its default), with the map options that give spconv semantics."""
    config = ts.conv_config.get_global_conv_config() or ts.conv_config.get_default_conv_config()
    config = config.copy()
    config.update({"kmap_mode": "hashmap_on_the_fly", "downsample_mode": "spconv"})
    return config


def _tensor_in(layer, x) -> TorchsparseConvTensor:
    if not isinstance(x, TorchsparseConvTensor):
        raise TypeError(
            f"{type(layer).__name__}: the torchsparse backend takes a TorchsparseConvTensor "
            f"(get_backend('torchsparse').tensor), got {type(x).__name__}"
        )
    return x


class _TorchsparseLayer:
    """Refuses at construction what torchsparse's maps cannot express; runs one torchsparse conv."""

    def _check_supported(self) -> None:
        if self.dilation != UNIT:
            raise NotImplementedError(
                f"{type(self).__name__}: torchsparse 2.1 builds kernel maps without dilation, got {self.dilation}"
            )

    def _conv(self, tensor, ts, stride: Triple, padding: Triple, transposed: bool = False):
        flat_1x1 = self.kernel_size == UNIT and stride == UNIT
        return ts.conv3d(
            tensor,
            weight=torchsparse_weight(self.weight, flat_1x1),
            kernel_size=self.kernel_size,
            bias=self.bias,
            stride=stride,
            padding=padding,
            dilation=UNIT,
            config=_conv_config(ts),
            transposed=transposed,
            training=self.training,
        )


class SubMConv3d(_TorchsparseLayer, modules.SubMConv3d):
    """Submanifold conv: torchsparse treats every stride-1 conv as submanifold, centred kernel."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._check_supported()
        if any(size % 2 == 0 for size in self.kernel_size):
            raise ValueError(f"SubMConv3d: kernel_size must be odd on every axis, got {self.kernel_size}")

    def forward(self, x: TorchsparseConvTensor) -> TorchsparseConvTensor:
        ts = load_torchsparse()
        x = _tensor_in(self, x)
        padding = tuple(size // 2 for size in self.kernel_size)
        out = self._conv(x.to_torchsparse(ts, "SubMConv3d"), ts, UNIT, padding)
        return x.from_torchsparse(out, "SubMConv3d")


class SparseConv3d(_TorchsparseLayer, modules.SparseConv3d):
    """Strided sparse conv with spconv's output sites (torchsparse's 'spconv' downsampling)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._check_supported()
        if self.stride == UNIT:
            raise NotImplementedError(
                "SparseConv3d: torchsparse runs a stride-1 conv as submanifold, which keeps the input sites where "
                "spconv's SparseConv3d grows them; use a stride > 1 on some axis, SubMConv3d, or backend='native'"
            )

    def forward(self, x: TorchsparseConvTensor) -> TorchsparseConvTensor:
        ts = load_torchsparse()
        x = _tensor_in(self, x)
        tensor = x.to_torchsparse(ts, "SparseConv3d")
        key = (x.tensor_stride, self.kernel_size, self.stride, UNIT)
        # torchsparse's key ignores padding; this layer's map is built fresh and kept by indice_key.
        tensor._caches.kmaps.pop(key, None)
        out_stride = tuple(a * b for a, b in zip(x.tensor_stride, self.stride))
        tensor._caches.hashmaps[out_stride] = self._output_hash_table(x.indices)
        out = self._conv(tensor, ts, self.stride, self.padding)
        if self.indice_key is not None:
            x.indice_dict[self.indice_key] = _StridedMap(key, tensor._caches.kmaps[key], out.coords.shape[0])
        return x.from_torchsparse(out, "SparseConv3d")

    def _output_hash_table(self, indices: torch.Tensor) -> list[torch.Tensor]:
        """Empty (keys, values) for torchsparse to file this conv's output sites in.

        Its own table holds 2 entries per input site, but a site reaches up to prod(ceil(k / s))
        outputs (8 for kernel 3, stride 2), which overflows it on sparse inputs.
        """
        per_site = math.prod(-(-k // s) for k, s in zip(self.kernel_size, self.stride))
        capacity = max(512, 2 * per_site * indices.shape[0])
        return [indices.new_zeros(capacity, dtype=torch.int64), indices.new_zeros(capacity, dtype=torch.int32)]


class SparseInverseConv3d(_TorchsparseLayer, modules.SparseInverseConv3d):
    """Undoes the SparseConv3d that stored `indice_key`: torchsparse's transposed conv on that layer's map."""

    def forward(self, x: TorchsparseConvTensor) -> TorchsparseConvTensor:
        ts = load_torchsparse()
        x = _tensor_in(self, x)
        strided = x.indice_dict.get(self.indice_key)
        if not isinstance(strided, _StridedMap):
            raise KeyError(f"SparseInverseConv3d: no SparseConv3d map under indice_key {self.indice_key!r}")
        in_stride, kernel_size, stride, _ = strided.key
        if kernel_size != self.kernel_size:
            raise ValueError(
                f"SparseInverseConv3d: kernel_size {self.kernel_size} differs from the map's {kernel_size}"
            )
        out_stride = tuple(a * b for a, b in zip(in_stride, stride))
        if x.indices.shape[0] != strided.num_out or x.tensor_stride != out_stride:
            raise ValueError(
                f"SparseInverseConv3d: input has {x.indices.shape[0]} sites at stride {x.tensor_stride}, the map under "
                f"{self.indice_key!r} produced {strided.num_out} at stride {out_stride}"
            )
        tensor = x.to_torchsparse(ts, "SparseInverseConv3d")
        tensor._caches.kmaps[strided.key] = strided.kmap
        out = self._conv(tensor, ts, stride, self.padding, transposed=True)
        return x.from_torchsparse(out, "SparseInverseConv3d")
