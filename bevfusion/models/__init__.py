"""Models (registered in MODELS): the detector, its parts and the data preprocessor."""

from . import losses, task_utils
from .bevfusion import BEVFusion
from .camera import (
    DepthLSSTransform,
    GeneralizedLSSFPN,
    LSSTransform,
    PerspectiveSemanticHead,
    ResNet,
    SwinTransformer,
)
from .checkpoint import CheckpointMismatchError, load_state_dict_file
from .data_preprocessor import BEVFusionDataPreprocessor
from .decoders import SECOND, SECONDFPN
from .fusers import ConvFuser, ResidualConvFuser
from .heads import TransFusionHead
from .lidar import HardSimpleVFE, SparseEncoder

__all__ = [
    "BEVFusion",
    "BEVFusionDataPreprocessor",
    "CheckpointMismatchError",
    "ConvFuser",
    "ResidualConvFuser",
    "DepthLSSTransform",
    "GeneralizedLSSFPN",
    "HardSimpleVFE",
    "LSSTransform",
    "PerspectiveSemanticHead",
    "ResNet",
    "SECOND",
    "SECONDFPN",
    "SparseEncoder",
    "SwinTransformer",
    "TransFusionHead",
    "load_state_dict_file",
    "losses",
    "task_utils",
]
