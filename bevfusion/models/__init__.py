"""Models (registered in MODELS): the detector, its parts and the data preprocessor."""

from .data_preprocessor import BEVFusionDataPreprocessor
from .lidar import SparseEncoder

__all__ = ["BEVFusionDataPreprocessor", "SparseEncoder"]
