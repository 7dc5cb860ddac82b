"""`ConvFuser`: concatenate the modality BEV maps and mix them with one 3x3 conv."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bevfusion.registry import MODELS

from .layers import conv_bn_relu


@MODELS.register_module()
class ConvFuser(nn.Module):
    """`[(B, C_i, nx, ny), ...]` in `in_channels` order -> `(B, out_channels, nx, ny)` (conv 3x3, no bias, BN, ReLU)."""

    def __init__(self, in_channels: Sequence[int] = (80, 256), out_channels: int = 256) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.fuse = conv_bn_relu(sum(self.in_channels), out_channels)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        channels = tuple(feature.shape[1] for feature in features)
        if channels != self.in_channels:
            raise ValueError(f"ConvFuser: got maps with {channels} channels, the config says {self.in_channels}")
        shapes = {tuple(feature.shape[-2:]) for feature in features}
        if len(shapes) != 1:
            raise ValueError(f"ConvFuser: BEV maps of different sizes {sorted(shapes)}; the grids must match")
        return self.fuse(torch.cat(list(features), 1))
