"""Sparse 3D convolution with spconv semantics: kernel maps cached by `indice_key`, gather-GEMM-scatter.

Sites are `(batch, z, y, x)` int32, grids `(z, y, x)`, weights spconv 2's `(out, kz, ky, kx, in)`.
"""

from .backends import LAYER_KINDS, SparseBackend, get_backend, make_sparse_layer
from .functional import sparse_conv
from .kernel_map import KernelMap, build_kernel_map, conv_output_shape
from .modules import SparseConv3d, SparseInverseConv3d, SparseModule, SparseSequential, SubMConv3d
from .tensor import SparseConvTensor, to_bev

__all__ = [
    "LAYER_KINDS",
    "KernelMap",
    "SparseBackend",
    "SparseConv3d",
    "SparseConvTensor",
    "SparseInverseConv3d",
    "SparseModule",
    "SparseSequential",
    "SubMConv3d",
    "build_kernel_map",
    "conv_output_shape",
    "get_backend",
    "make_sparse_layer",
    "sparse_conv",
    "to_bev",
]
