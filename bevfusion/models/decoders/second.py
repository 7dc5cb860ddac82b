"""`SECOND` BEV backbone and `SECONDFPN` neck (mmdetection3d's, as BEVFusion configures them)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bevfusion.registry import MODELS

from ..layers import conv_bn_relu

BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # BEVFusion's decoder norm_cfg


@MODELS.register_module()
class SECOND(nn.Module):
    """Stages of 3x3 conv + BN + ReLU: the first of each strided, then `layer_nums[i]` more at that width.

    BEVFusion: in 256, out (128, 256), 5 + 5 layers, strides (1, 2) -> maps at strides 1 and 2.
    """

    def __init__(
        self,
        in_channels: int = 256,
        out_channels: Sequence[int] = (128, 256),
        layer_nums: Sequence[int] = (5, 5),
        layer_strides: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__()
        if not len(out_channels) == len(layer_nums) == len(layer_strides):
            raise ValueError(
                f"SECOND: out_channels {out_channels}, layer_nums {layer_nums} and layer_strides {layer_strides} "
                "must have one entry per stage"
            )
        self.blocks = nn.ModuleList()
        for width, layers, stride in zip(out_channels, layer_nums, layer_strides):
            convs = [conv_bn_relu(in_channels, width, stride=stride, bn_eps=BN_EPS, bn_momentum=BN_MOMENTUM)]
            convs += [conv_bn_relu(width, width, bn_eps=BN_EPS, bn_momentum=BN_MOMENTUM) for _ in range(layers)]
            self.blocks.append(nn.Sequential(*convs))
            in_channels = width

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs


@MODELS.register_module()
class SECONDFPN(nn.Module):
    """Brings every SECOND stage back to stride 1 and concatenates: `(B, sum(out_channels), nx, ny)`.

    A stage with upsample stride s > 1 gets a transposed conv (kernel s, stride s); stride 1 a
    1x1 conv; each with BN + ReLU. BEVFusion: in (128, 256), out (256, 256), strides (1, 2).
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (128, 256),
        out_channels: Sequence[int] = (256, 256),
        upsample_strides: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__()
        if not len(in_channels) == len(out_channels) == len(upsample_strides):
            raise ValueError(
                f"SECONDFPN: in_channels {in_channels}, out_channels {out_channels} and upsample_strides "
                f"{upsample_strides} must have one entry per stage"
            )
        self.deblocks = nn.ModuleList()
        for source, width, stride in zip(in_channels, out_channels, upsample_strides):
            if stride > 1:
                self.deblocks.append(
                    nn.Sequential(
                        nn.ConvTranspose2d(source, width, stride, stride=stride, bias=False),
                        nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_MOMENTUM),
                        nn.ReLU(inplace=True),
                    )
                )
            else:
                self.deblocks.append(conv_bn_relu(source, width, kernel_size=1, bn_eps=BN_EPS, bn_momentum=BN_MOMENTUM))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.deblocks):
            raise ValueError(f"SECONDFPN: expected {len(self.deblocks)} maps, got {len(features)}")
        return torch.cat([deblock(feature) for deblock, feature in zip(self.deblocks, features)], 1)
