"""Detection heads (registered in MODELS): TransFusion."""

from .transfusion_head import TransFusionHead

__all__ = ["TransFusionHead"]
