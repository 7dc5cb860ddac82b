"""LiDAR branch: voxel feature encoders and the sparse encoder (registered in MODELS)."""

from .sparse_encoder import SparseEncoder

__all__ = ["SparseEncoder"]
