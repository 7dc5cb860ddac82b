"""Mixed precision on CPU: bfloat16 autocast (mmengine's `AmpOptimWrapper` is fp16 and needs a GPU).

bfloat16 keeps float32's exponent range, so no loss scaling is needed; optimizer state and
weights stay float32, as under CUDA AMP.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """`OptimWrapper` whose forward passes run under `torch.autocast('cpu', dtype)` (bfloat16 by default)."""

    def __init__(self, dtype: str | torch.dtype = torch.bfloat16, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if self.cast_dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f"CPUAutocastOptimWrapper: dtype must be bfloat16 or float16, got {dtype!r}")

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast("cpu", dtype=self.cast_dtype):
            yield
