"""`SparseConvTensor`: features on the active sites of a batched (z, y, x) grid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class SparseConvTensor:
    """Features `(N, C)` at sites `indices` `(N, 4)` int32 `(batch, z, y, x)` of a grid `spatial_shape` (z, y, x).

    `indice_dict` caches kernel maps by `indice_key`; it travels with every tensor derived
    from this one, so layers sharing a key build their map once per forward pass.
    """

    def __init__(
        self,
        features: torch.Tensor,
        indices: torch.Tensor,
        spatial_shape: Sequence[int],
        batch_size: int,
        indice_dict: dict[str, Any] | None = None,
    ) -> None:
        if features.dim() != 2:
            raise ValueError(f"SparseConvTensor: features must be (N, C), got shape {tuple(features.shape)}")
        if indices.dim() != 2 or indices.shape[1] != 4 or indices.dtype != torch.int32:
            raise ValueError(
                f"SparseConvTensor: indices must be (N, 4) int32 (batch, z, y, x), got {indices.dtype} "
                f"{tuple(indices.shape)}"
            )
        if features.shape[0] != indices.shape[0]:
            raise ValueError(f"SparseConvTensor: {features.shape[0]} feature rows but {indices.shape[0]} indices rows")
        if features.device != indices.device:
            raise ValueError(f"SparseConvTensor: features on {features.device} but indices on {indices.device}")
        if len(spatial_shape) != 3 or min(spatial_shape) < 1:
            raise ValueError(f"SparseConvTensor: spatial_shape must be 3 positive sizes (z, y, x), got {spatial_shape}")
        self.features = features
        self.indices = indices
        self.spatial_shape = tuple(int(size) for size in spatial_shape)
        self.batch_size = int(batch_size)
        self.indice_dict = {} if indice_dict is None else indice_dict

    def replace_feature(self, features: torch.Tensor) -> SparseConvTensor:
        """The same sites (and kernel-map cache) carrying new features."""
        return SparseConvTensor(features, self.indices, self.spatial_shape, self.batch_size, self.indice_dict)

    def dense(self) -> torch.Tensor:
        """Dense `(B, C, D, H, W)` with zeros at inactive sites; differentiable in the features."""
        grid = self.features.new_zeros((self.batch_size, *self.spatial_shape, self.features.shape[1]))
        sites = self.indices.long()
        grid = grid.index_put((sites[:, 0], sites[:, 1], sites[:, 2], sites[:, 3]), self.features)
        return grid.permute(0, 4, 1, 2, 3).contiguous()


def to_bev(tensor: Any) -> torch.Tensor:
    """Fold z into channels and put x first: `(B, C*D, nx, ny)`, channel `c*D + z` (DESIGN.md BEV layout).

    Works for any sparse tensor whose `.dense()` is `(B, C, D, H, W)` (ours and spconv's).
    """
    dense = tensor.dense()
    batch, channels, depth, height, width = dense.shape
    return dense.permute(0, 1, 2, 4, 3).reshape(batch, channels * depth, width, height)
