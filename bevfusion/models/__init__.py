"""Models (registered in MODELS): the detector, its parts and the data preprocessor."""

from .data_preprocessor import BEVFusionDataPreprocessor

__all__ = ["BEVFusionDataPreprocessor"]
