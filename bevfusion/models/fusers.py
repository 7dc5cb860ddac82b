"""Fusers: merge the modality BEV maps (camera first, then LiDAR) into the one map the decoder reads.

`ConvFuser` is the paper's: concatenate and mix with one 3x3 conv. `ResidualConvFuser` adds
the same mixing to the LiDAR map through a zero-initialised 1x1 conv, so a fusion model
initialised from a LiDAR-only checkpoint starts out predicting exactly what that model does and
the fine-tune can only add what the camera brings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bevfusion.registry import MODELS

from .layers import conv_bn_relu


def _check_maps(fuser: str, features: Sequence[torch.Tensor], in_channels: tuple[int, ...]) -> None:
    """Raise when the maps' channels differ from the config's `in_channels` or their grids differ."""
    channels = tuple(feature.shape[1] for feature in features)
    if channels != in_channels:
        raise ValueError(f"{fuser}: got maps with {channels} channels, the config says {in_channels}")
    shapes = {tuple(feature.shape[-2:]) for feature in features}
    if len(shapes) != 1:
        raise ValueError(f"{fuser}: BEV maps of different sizes {sorted(shapes)}; the grids must match")


@MODELS.register_module()
class ConvFuser(nn.Module):
    """`[(B, C_i, nx, ny), ...]` in `in_channels` order -> `(B, out_channels, nx, ny)` (conv 3x3, no bias, BN, ReLU)."""

    def __init__(self, in_channels: Sequence[int] = (80, 256), out_channels: int = 256) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.fuse = conv_bn_relu(sum(self.in_channels), out_channels)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        _check_maps("ConvFuser", features, self.in_channels)
        return self.fuse(torch.cat(list(features), 1))


@MODELS.register_module()
class ResidualConvFuser(nn.Module):
    """`lidar + conv1x1(ConvFuser(maps))` with the 1x1 conv zero at init: the LiDAR map (the last) passes unchanged.

    The output keeps the LiDAR map's channels, so the decoder is the LiDAR-only model's.
    """

    def __init__(self, in_channels: Sequence[int] = (80, 256), hidden_channels: int = 256) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.fuse = conv_bn_relu(sum(self.in_channels), hidden_channels)
        self.to_residual = nn.Conv2d(hidden_channels, self.in_channels[-1], 1)
        nn.init.zeros_(self.to_residual.weight)
        nn.init.zeros_(self.to_residual.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        _check_maps("ResidualConvFuser", features, self.in_channels)
        return features[-1] + self.to_residual(self.fuse(torch.cat(list(features), 1)))
