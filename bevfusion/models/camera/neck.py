"""`GeneralizedLSSFPN`: BEVFusion's top-down image neck.

Going from the coarsest level down, each level's map is upsampled (bilinear,
`align_corners=False`) to the next finer one, concatenated with it, and fused by a 1x1 and a
3x3 conv (BN + ReLU). With Swin-T's 192/384/768 channels at strides 8/16/32 it returns
256-channel maps at strides 8 and 16; the view transform takes the first.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bevfusion.registry import MODELS

from ..layers import conv_bn_relu


@MODELS.register_module()
class GeneralizedLSSFPN(nn.Module):
    """Backbone maps (finest first) -> `len(in_channels) - 1` maps of `out_channels`, finest first."""

    def __init__(self, in_channels: Sequence[int] = (192, 384, 768), out_channels: int = 256) -> None:
        super().__init__()
        if len(in_channels) < 2:
            raise ValueError(f"GeneralizedLSSFPN: needs at least two input levels, got in_channels={in_channels}")
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        levels = len(in_channels) - 1
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for level in range(levels):
            coarser = in_channels[level + 1] if level == levels - 1 else out_channels
            self.lateral_convs.append(conv_bn_relu(in_channels[level] + coarser, out_channels, kernel_size=1))
            self.fpn_convs.append(conv_bn_relu(out_channels, out_channels, kernel_size=3))

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(features) != len(self.in_channels):
            raise ValueError(f"GeneralizedLSSFPN: expected {len(self.in_channels)} input maps, got {len(features)}")
        coarser = features[-1]
        outputs = []
        for level in reversed(range(len(self.lateral_convs))):
            finer = features[level]
            upsampled = F.interpolate(coarser, size=finer.shape[-2:], mode="bilinear", align_corners=False)
            coarser = self.fpn_convs[level](self.lateral_convs[level](torch.cat([finer, upsampled], 1)))
            outputs.insert(0, coarser)
        return outputs
