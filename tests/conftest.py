"""Shared pytest setup.

`cuda` tests are skipped only where no GPU is visible. On a GPU machine they run, and a
library built without its CUDA kernels fails them loudly instead of skipping silently.
"""

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device visible")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def synthetic_nuscenes(tmp_path_factory):
    """Dataroot of a tiny synthetic nuScenes (v1.0-mini), generated once per test session.

    Two scenes named scene-0103 and scene-0916 (the official mini_val scenes, also the
    custom split `synthetic_val`), three key frames each with their LiDAR sweeps; every one
    of the ten detection classes is annotated with LiDAR points.
    """
    from bevfusion.datasets.synthetic import SyntheticConfig, generate

    root = tmp_path_factory.mktemp("synthetic_nuscenes")
    return generate(SyntheticConfig(out=root, scenes=2, samples_per_scene=3, seed=0), progress=False)


@pytest.fixture
def tiny_encoder_config() -> dict:
    """A SparseEncoder with BEVFusion's layer structure at toy widths, on a (z 41, y 32, x 40) grid."""
    return dict(
        in_channels=4,
        sparse_shape=(40, 32, 41),
        output_channels=16,
        base_channels=4,
        encoder_channels=((4, 4, 8), (8, 8, 16), (16, 16, 16), (16, 16)),
        encoder_paddings=((0, 0, 1), (0, 0, 1), (0, 0, (1, 1, 0)), (0, 0)),
        block_type="basicblock",
    )


@pytest.fixture(scope="session")
def synthetic_infos(synthetic_nuscenes, tmp_path_factory) -> dict[str, str]:
    """Split -> v2 info file of the `synthetic_nuscenes` set (written once per session, no GT database)."""
    from bevfusion.datasets.converters.nuscenes_infos import create_nuscenes_infos

    out = tmp_path_factory.mktemp("synthetic_infos")
    return create_nuscenes_infos(str(synthetic_nuscenes), "v1.0-mini", str(out))
