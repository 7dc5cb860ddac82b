"""A tiny synthetic world with a training split, shared by the tool tests (generated once per session)."""

import runpy
import sys

import pytest
from tool_helpers import REPO


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> str:
    """Dataroot with info files and a GT database: 3 scenes x 1 key frame, 2 of them mini_val, 1 train.

    The single training sample holds all ten classes, so CBGS draws it ten times (an epoch of five
    iterations at batch 2).
    """
    from bevfusion.datasets.synthetic import SyntheticConfig, generate

    config = SyntheticConfig(out=tmp_path_factory.mktemp("tiny_world"), scenes=3, samples_per_scene=1, seed=7)
    root = generate(config, progress=False)
    argv = sys.argv
    sys.argv = ["create_data.py", "nuscenes", "--root-path", str(root), "--version", "v1.0-mini"]
    try:
        runpy.run_path(str(REPO / "tools" / "create_data.py"), run_name="__main__")
    finally:
        sys.argv = argv
    return str(root)
