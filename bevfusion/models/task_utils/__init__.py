"""Training and decoding helpers of the detection heads (registered in TASK_UTILS): assigner, costs, coder."""

from .gaussian import draw_gaussian, gaussian_kernel, gaussian_radius
from .hungarian_assigner import AssignResult, BBoxBEVL1Cost, FocalLossCost, HungarianAssigner3D, IoU3DCost
from .transfusion_coder import TransFusionBBoxCoder

__all__ = [
    "AssignResult",
    "BBoxBEVL1Cost",
    "FocalLossCost",
    "HungarianAssigner3D",
    "IoU3DCost",
    "TransFusionBBoxCoder",
    "draw_gaussian",
    "gaussian_kernel",
    "gaussian_radius",
]
