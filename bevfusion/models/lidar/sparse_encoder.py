"""The LiDAR sparse encoder (mmdetection3d's `SparseEncoder` as BEVFusion configures it): voxels -> BEV.

Module names follow mmdetection3d (`conv_input`, `encoder_layers.encoder_layer{i}`,
`conv_out`) and weights use spconv 2's layout, so its checkpoints map key for key.
Config sizes and paddings are given in mmdetection3d's (x, y, z) order; the grid here is
(z, y, x), so they are reversed once at construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bevfusion.ops.sparse import SparseModule, SparseSequential, get_backend, make_sparse_layer, to_bev
from bevfusion.registry import MODELS

NORM_LAYERS = {"BN1d": nn.BatchNorm1d}


def _norm(norm_cfg: dict, channels: int) -> nn.Module:
    cfg = dict(norm_cfg)
    kind = cfg.pop("type")
    if kind not in NORM_LAYERS:
        raise ValueError(f"SparseEncoder: norm_cfg type {kind!r} is not one of {sorted(NORM_LAYERS)}")
    return NORM_LAYERS[kind](channels, **cfg)


def _zyx(value: int | Sequence[int]) -> int | tuple[int, int, int]:
    """An mmdetection3d (x, y, z) triple as (z, y, x); ints pass through."""
    return value if isinstance(value, int) else tuple(reversed(value))


class SparseBasicBlock(SparseModule):
    """Two 3x3x3 submanifold convs with norm, plus the identity (ResNet BasicBlock)."""

    def __init__(self, channels: int, norm_cfg: dict, indice_key: str, backend: str) -> None:
        super().__init__()
        conv = dict(kernel_size=3, padding=1, bias=False, indice_key=indice_key, backend=backend)
        self.conv1 = make_sparse_layer("SubMConv3d", channels, channels, **conv)
        self.bn1 = _norm(norm_cfg, channels)
        self.conv2 = make_sparse_layer("SubMConv3d", channels, channels, **conv)
        self.bn2 = _norm(norm_cfg, channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.conv1(x)
        out = out.replace_feature(self.relu(self.bn1(out.features)))
        out = self.conv2(out)
        return out.replace_feature(self.relu(self.bn2(out.features) + x.features))


@MODELS.register_module()
class SparseEncoder(nn.Module):
    """Voxel features `(N, C)` at `(batch, z, y, x)` sites -> BEV `(B, C_out * D', nx, ny)`, x first.

    With BEVFusion's nuScenes config (sparse_shape (1440, 1440, 41)) the output is
    `(B, 256, 180, 180)`. `backend` picks the conv implementation: 'native', 'spconv' or 'torchsparse' (CUDA only).
    """

    def __init__(
        self,
        in_channels: int = 5,
        sparse_shape: Sequence[int] = (1440, 1440, 41),
        output_channels: int = 128,
        order: Sequence[str] = ("conv", "norm", "act"),
        norm_cfg: dict | None = None,
        base_channels: int = 16,
        encoder_channels: Sequence[Sequence[int]] = ((16,), (32, 32, 32), (64, 64, 64), (64, 64, 64)),
        encoder_paddings: Sequence[Sequence] = ((1,), (1, 1, 1), (1, 1, 1), ((0, 1, 1), 1, 1)),
        block_type: str = "conv_module",
        backend: str = "native",
    ) -> None:
        super().__init__()
        if sorted(order) != ["act", "conv", "norm"]:
            raise ValueError(f"SparseEncoder: order must be a permutation of conv, norm, act; got {order}")
        if block_type not in ("conv_module", "basicblock"):
            raise ValueError(f"SparseEncoder: block_type must be 'conv_module' or 'basicblock', got {block_type!r}")
        if len(sparse_shape) != 3:
            raise ValueError(f"SparseEncoder: sparse_shape must be (x, y, z), got {sparse_shape}")
        self.spatial_shape = tuple(reversed(sparse_shape))
        self.order = tuple(order)
        self.norm_cfg = norm_cfg or dict(type="BN1d", eps=1e-3, momentum=0.01)
        self.backend = backend
        self.tensor_type = get_backend(backend).tensor
        self.conv_input = self._conv_module("SubMConv3d", in_channels, base_channels, 3, 1, 1, "subm1")
        self.encoder_layers = SparseSequential()
        channels = base_channels
        for stage, (widths, paddings) in enumerate(zip(encoder_channels, encoder_paddings)):
            blocks = []
            last_stage = stage == len(encoder_channels) - 1
            for j, (width, padding) in enumerate(zip(widths, paddings)):
                if block_type == "basicblock":
                    downsample = j == len(widths) - 1 and not last_stage
                else:
                    downsample = stage != 0 and j == 0
                if downsample:
                    block = self._conv_module("SparseConv3d", channels, width, 3, 2, padding, f"spconv{stage + 1}")
                elif block_type == "basicblock":
                    if width != channels:
                        raise ValueError(
                            f"SparseEncoder: basic block {j} of stage {stage + 1} maps {channels} to {width} channels; "
                            "basic blocks keep the width (set base_channels / the previous stage's last width)"
                        )
                    block = SparseBasicBlock(width, self.norm_cfg, f"subm{stage + 1}", backend)
                else:
                    block = self._conv_module("SubMConv3d", channels, width, 3, 1, padding, f"subm{stage + 1}")
                blocks.append(block)
                channels = width
            self.encoder_layers.add_module(f"encoder_layer{stage + 1}", SparseSequential(*blocks))
        self.conv_out = self._conv_module(
            "SparseConv3d", channels, output_channels, (1, 1, 3), (1, 1, 2), 0, "spconv_down2"
        )

    def _conv_module(self, kind, in_channels, out_channels, kernel_size, stride, padding, indice_key):
        """conv / norm / ReLU in `self.order`, as mmdetection3d's make_sparse_convmodule."""
        parts = {
            "conv": make_sparse_layer(
                kind,
                in_channels,
                out_channels,
                _zyx(kernel_size),
                stride=_zyx(stride),
                padding=_zyx(padding),
                bias=False,
                indice_key=indice_key,
                backend=self.backend,
            ),  # fmt: skip
            "norm": _norm(self.norm_cfg, out_channels),
            "act": nn.ReLU(inplace=True),
        }
        return SparseSequential(*(parts[name] for name in self.order))

    def forward(self, voxel_features: torch.Tensor, coors: torch.Tensor, batch_size: int) -> torch.Tensor:
        """`coors` `(N, 4)` `(batch, z, y, x)`; returns the BEV map `(B, C * D', nx, ny)`."""
        # Voxels in (b, z, y, x) order: kernel-map lookups then walk the grid in memory order.
        coors = coors.long()
        depth, height, width = self.spatial_shape
        order = (((coors[:, 0] * depth + coors[:, 1]) * height + coors[:, 2]) * width + coors[:, 3]).argsort()
        x = self.tensor_type(voxel_features[order], coors[order].int(), list(self.spatial_shape), batch_size)
        x = self.encoder_layers(self.conv_input(x))
        return to_bev(self.conv_out(x))
