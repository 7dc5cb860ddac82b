"""Voxel feature encoders: the points of each voxel -> one feature vector per voxel."""

from __future__ import annotations

import torch
from torch import nn

from bevfusion.registry import MODELS


@MODELS.register_module()
class HardSimpleVFE(nn.Module):
    """The mean of each voxel's points (mmdetection3d's `HardSimpleVFE`, BEVFusion's LiDAR config).

    Takes hard voxels `(V, M, C)` zero-padded past `num_points` `(V,)` and returns `(V, num_features)`.
    """

    def __init__(self, num_features: int = 5) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, voxels: torch.Tensor, num_points: torch.Tensor) -> torch.Tensor:
        if voxels.dim() != 3 or voxels.shape[-1] < self.num_features:
            raise ValueError(
                f"HardSimpleVFE: voxels must be (V, max_points, >= {self.num_features}) as given by the data "
                f"preprocessor's hard voxelization with reduce='none', got {tuple(voxels.shape)}"
            )
        total = voxels[:, :, : self.num_features].sum(dim=1)
        return total / num_points.clamp(min=1).to(total.dtype).unsqueeze(1)
