"""Tensors or array-likes -> numpy, which is what OpenCV draws with."""

from __future__ import annotations

import numpy as np
import torch


def as_numpy(values, dtype: type = np.float64) -> np.ndarray:
    """`values` (a tensor on any device, or anything `np.asarray` takes) as a numpy array of `dtype`."""
    if torch.is_tensor(values):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)
