"""Image backbones from torchvision that return the stages named by `out_indices` as NCHW maps.

Stage indices count the four resolution stages from 0 (stride 4) to 3 (stride 32), so
`out_indices=(1, 2, 3)` gives strides 8, 16 and 32 for both families. Pretrained weights are
an optional local file holding a torchvision state dict (e.g. `swin_t-704ceda3.pth`,
`resnet18-f37072fd.pth`); nothing is downloaded. Stages after the last one used are not built.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchvision
from torch import nn

from bevfusion.registry import MODELS

from ..checkpoint import load_state_dict_file

STAGES = 4


def _check_out_indices(name: str, out_indices: Sequence[int]) -> tuple[int, ...]:
    indices = tuple(int(index) for index in out_indices)
    if not indices or sorted(set(indices)) != list(indices) or not all(0 <= index < STAGES for index in indices):
        raise ValueError(f"{name}: out_indices must be increasing stage indices in 0..{STAGES - 1}, got {out_indices}")
    return indices


@MODELS.register_module()
class SwinTransformer(nn.Module):
    """torchvision's Swin Transformer with a LayerNorm on every returned stage (as mmdetection's).

    Defaults are Swin-T: embed 96, depths 2-2-6-2, heads 3-6-12-24, window 7, drop-path 0.2;
    `out_indices=(1, 2, 3)` gives 192, 384 and 768 channels at strides 8, 16 and 32.
    """

    def __init__(
        self,
        embed_dims: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.2,
        out_indices: Sequence[int] = (1, 2, 3),
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        if len(depths) != STAGES or len(num_heads) != STAGES:
            raise ValueError(f"SwinTransformer: depths and num_heads need {STAGES} entries, got {depths}, {num_heads}")
        self.out_indices = _check_out_indices("SwinTransformer", out_indices)
        swin = torchvision.models.SwinTransformer(
            patch_size=[4, 4],
            embed_dim=embed_dims,
            depths=list(depths),
            num_heads=list(num_heads),
            window_size=[window_size, window_size],
            mlp_ratio=mlp_ratio,
            stochastic_depth_prob=drop_path_rate,
        )
        # features: [patch embed, stage 0, merge, stage 1, merge, stage 2, merge, stage 3]; stop at the last stage used.
        self.features = swin.features[: 2 * self.out_indices[-1] + 2]
        self.out_channels = tuple(embed_dims * 2**index for index in self.out_indices)
        self.out_norms = nn.ModuleList(nn.LayerNorm(channels) for channels in self.out_channels)
        if pretrained:
            unused = tuple(f"features.{index}." for index in range(len(self.features), len(swin.features)))
            load_state_dict_file(
                self, pretrained, allow_missing=("out_norms.",), allow_unexpected=(*unused, "norm.", "head.")
            )

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        x = images
        for index, layer in enumerate(self.features):
            x = layer(x)  # NHWC after the patch embedding
            stage = (index - 1) // 2
            if index % 2 == 1 and stage in self.out_indices:
                norm = self.out_norms[self.out_indices.index(stage)]
                outputs.append(norm(x).permute(0, 3, 1, 2).contiguous())
        return outputs


RESNETS = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34, 50: torchvision.models.resnet50}


@MODELS.register_module()
class ResNet(nn.Module):
    """torchvision ResNet-18/34/50 returning stages `out_indices` (layer1..layer4 are stages 0..3).

    `frozen_stages=k` (mmdetection's option) trains neither the stem nor layer1..layer<k>: their parameters get no
    gradient and no backward runs through them. Unlike mmdetection, their BatchNorms keep normalising with batch
    statistics in training, since without pretrained weights nothing else keeps those activations in scale.
    """

    def __init__(
        self,
        depth: int = 18,
        out_indices: Sequence[int] = (1, 2, 3),
        pretrained: str | None = None,
        frozen_stages: int = -1,
    ) -> None:
        super().__init__()
        if depth not in RESNETS:
            raise ValueError(f"ResNet: depth must be one of {sorted(RESNETS)}, got {depth}")
        self.out_indices = _check_out_indices("ResNet", out_indices)
        if not -1 <= frozen_stages <= self.out_indices[-1] + 1:
            raise ValueError(
                f"ResNet: frozen_stages must be -1 (none), 0 (the stem) or up to the last stage used "
                f"({self.out_indices[-1] + 1}), got {frozen_stages}"
            )
        net = RESNETS[depth](weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        layers = [net.layer1, net.layer2, net.layer3, net.layer4][: self.out_indices[-1] + 1]
        for stage, layer in enumerate(layers):
            self.add_module(f"layer{stage + 1}", layer)
        self.num_stages = len(layers)
        width = 64 * (4 if depth >= 50 else 1)
        self.out_channels = tuple(width * 2**index for index in self.out_indices)
        if pretrained:
            unused = tuple(f"layer{stage + 1}." for stage in range(self.num_stages, STAGES))
            load_state_dict_file(self, pretrained, allow_unexpected=(*unused, "fc."))
        if frozen_stages >= 0:
            for module in [self.conv1, self.bn1, *(getattr(self, f"layer{k}") for k in range(1, frozen_stages + 1))]:
                module.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        outputs = []
        for stage in range(self.num_stages):
            x = getattr(self, f"layer{stage + 1}")(x)
            if stage in self.out_indices:
                outputs.append(x)
        return outputs
