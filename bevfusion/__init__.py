"""BEVFusion: camera + LiDAR bird's-eye-view 3D detection on CPU and CUDA."""

__version__ = "0.1.0"
