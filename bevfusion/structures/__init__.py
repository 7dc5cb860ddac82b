"""Core data structures: boxes in the LiDAR frame and the calibration bundle."""

from .boxes import LiDARBoxes, flip_matrix, rotation_z_matrix, scale_matrix, wrap_angle
from .calibration import CalibrationBundle, image_affine_to_matrix
from .data_sample import Det3DDataSample

__all__ = [
    "CalibrationBundle",
    "Det3DDataSample",
    "image_affine_to_matrix",
    "LiDARBoxes",
    "flip_matrix",
    "rotation_z_matrix",
    "scale_matrix",
    "wrap_angle",
]
