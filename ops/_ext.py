"""Loads the compiled op library and says clearly what to do when it is missing."""

import importlib

import torch

_LOADED = False


def load_ops() -> None:
    """Import `bevfusion.ops._C`, which registers `torch.ops.bevfusion.*`."""
    global _LOADED
    if _LOADED:
        return
    try:
        importlib.import_module("bevfusion.ops._C")
    except ImportError as error:
        raise ImportError(
            "bevfusion.ops._C is not built. Run `make install` (or "
            "`pip install -e . --no-build-isolation`) from the repository root."
        ) from error
    _LOADED = True


def has_cuda_kernels() -> bool:
    """True when the library was built with its CUDA kernels (FORCE_CUDA=1 or a visible GPU)."""
    load_ops()
    return torch._C._dispatch_has_kernel_for_dispatch_key("bevfusion::points_in_boxes", "CUDA")


def check_device(op: str, *tensors: torch.Tensor) -> None:
    """Raise a clear error when a CUDA tensor reaches a library built without CUDA kernels."""
    if any(t.is_cuda for t in tensors) and not has_cuda_kernels():
        raise RuntimeError(
            f"bevfusion.ops.{op}: got CUDA tensors, but the op library was built without CUDA. "
            "Rebuild with FORCE_CUDA=1 pip install -e . --no-build-isolation"
        )
