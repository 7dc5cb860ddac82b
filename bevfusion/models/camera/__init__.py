"""Camera branch: torchvision backbones, the LSS neck and the view transforms (registered in MODELS)."""

from .backbones import ResNet, SwinTransformer
from .neck import GeneralizedLSSFPN
from .view_transform import DepthLSSTransform, LSSTransform

__all__ = ["DepthLSSTransform", "GeneralizedLSSFPN", "LSSTransform", "ResNet", "SwinTransformer"]
