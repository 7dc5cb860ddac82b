"""Native ops (`bevfusion.ops`): each has a PyTorch reference, a C++ CPU kernel and a CUDA kernel."""

from ._ext import has_cuda_kernels, load_ops

__all__ = ["has_cuda_kernels", "load_ops"]
