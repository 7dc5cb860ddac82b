"""Data transforms (registered in TRANSFORMS): loading, augmentation, GT sampling, filters, packing."""

from .filters import ObjectNameFilter, ObjectRangeFilter, PointShuffle, PointsRangeFilter
from .formatting import Pack3DDetInputs
from .image_aug import ImageAug3D
from .lidar_aug import GlobalRotScaleTrans, RandomFlip3D
from .loading import LoadMultiViewImageFromFiles, LoadPointsFromFile, LoadPointsFromMultiSweeps, load_points_file
from .object_sample import ObjectSample

__all__ = [
    "GlobalRotScaleTrans",
    "ImageAug3D",
    "LoadMultiViewImageFromFiles",
    "LoadPointsFromFile",
    "LoadPointsFromMultiSweeps",
    "ObjectNameFilter",
    "ObjectRangeFilter",
    "ObjectSample",
    "Pack3DDetInputs",
    "PointShuffle",
    "PointsRangeFilter",
    "RandomFlip3D",
    "load_points_file",
]
