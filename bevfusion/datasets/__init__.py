"""Datasets: nuScenes info files -> samples, the CBGS wrapper, converters and transforms."""

from . import transforms  # noqa: F401  (registers the transforms)
from .cbgs import CBGSDataset
from .nuscenes import NuScenesDataset

__all__ = ["CBGSDataset", "NuScenesDataset"]
