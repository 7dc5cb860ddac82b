"""Core data structures: boxes in the LiDAR frame and the calibration bundle."""
from .boxes import LiDARBoxes, flip_matrix, rotation_z_matrix, scale_matrix, wrap_angle
from .calibration import CalibrationBundle

__all__ = ["CalibrationBundle", "LiDARBoxes", "flip_matrix", "rotation_z_matrix", "scale_matrix", "wrap_angle"]
