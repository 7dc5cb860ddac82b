"""Fixtures: create_data.py run once on the synthetic nuScenes set, and a devkit handle on it."""

import runpy
import sys

import pytest
from nuscenes_helpers import CREATE_DATA, Prepared


@pytest.fixture(scope="session")
def prepared(synthetic_nuscenes, tmp_path_factory) -> Prepared:
    """Info files and GT database written by `tools/create_data.py` into a fresh folder."""
    root = str(synthetic_nuscenes)
    out = str(tmp_path_factory.mktemp("nuscenes_infos"))
    argv = sys.argv
    sys.argv = ["create_data.py", "nuscenes", "--root-path", root, "--version", "v1.0-mini", "--out-dir", out]
    try:
        runpy.run_path(CREATE_DATA, run_name="__main__")
    finally:
        sys.argv = argv
    return Prepared(
        root=root,
        out=out,
        info={split: f"{out}/nuscenes_infos_{split}.pkl" for split in ("train", "val")},
        db_info=f"{out}/nuscenes_dbinfos_train.pkl",
    )


@pytest.fixture(scope="session")
def nusc(synthetic_nuscenes):
    from nuscenes.nuscenes import NuScenes

    return NuScenes(version="v1.0-mini", dataroot=str(synthetic_nuscenes), verbose=False)
