"""Camera branch: torchvision backbones, the LSS neck and the view transforms (registered in MODELS)."""

from .backbones import ResNet, SwinTransformer
from .neck import GeneralizedLSSFPN
from .perspective_head import PerspectiveSemanticHead
from .view_transform import DepthLSSTransform, LSSTransform

__all__ = [
    "DepthLSSTransform",
    "GeneralizedLSSFPN",
    "LSSTransform",
    "PerspectiveSemanticHead",
    "ResNet",
    "SwinTransformer",
]
