"""LiDAR branch: voxel feature encoders and the sparse encoder (registered in MODELS)."""

from .sparse_encoder import SparseEncoder
from .voxel_encoder import HardSimpleVFE

__all__ = ["HardSimpleVFE", "SparseEncoder"]
