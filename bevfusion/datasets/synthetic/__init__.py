"""The synthetic nuScenes world: a devkit-loadable dataset the project generates itself.

`generate(SyntheticConfig(out=...))` writes the nuScenes layout (v1.0-* tables, samples/,
sweeps/, maps/) with a ray-cast LiDAR and z-buffered cameras; see data/README.md.
"""

from .generator import SyntheticConfig, generate
from .tables import CUSTOM_TRAIN, CUSTOM_VAL, OFFICIAL_SCENE_NAMES

__all__ = ["CUSTOM_TRAIN", "CUSTOM_VAL", "OFFICIAL_SCENE_NAMES", "SyntheticConfig", "generate"]
