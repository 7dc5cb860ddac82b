"""Fixtures: create_data.py run once on the synthetic nuScenes set (v2 and both 0.x dialects), and a devkit handle."""

import pytest
from nuscenes_helpers import Prepared, run_create_data


@pytest.fixture(scope="session")
def prepared(synthetic_nuscenes, tmp_path_factory) -> Prepared:
    """Info files and GT database written by `tools/create_data.py` into a fresh folder."""
    root = str(synthetic_nuscenes)
    out = str(tmp_path_factory.mktemp("nuscenes_infos"))
    run_create_data("nuscenes", "--root-path", root, "--version", "v1.0-mini", "--out-dir", out)
    return Prepared(
        root=root,
        out=out,
        info={split: f"{out}/nuscenes_infos_{split}.pkl" for split in ("train", "val")},
        db_info=f"{out}/nuscenes_dbinfos_train.pkl",
    )


@pytest.fixture(scope="session")
def legacy_val_infos(synthetic_nuscenes, tmp_path_factory) -> dict[str, str]:
    """Info format (`0.x`, `0.x-mit`) -> the val info file `create_data.py --info-format` wrote in it."""
    paths = {}
    for info_format in ("0.x", "0.x-mit"):
        out = str(tmp_path_factory.mktemp(f"infos_{info_format}"))
        root = str(synthetic_nuscenes)
        run_create_data(
            "nuscenes", "--root-path", root, "--version", "v1.0-mini", "--out-dir", out, "--info-format", info_format
        )
        paths[info_format] = f"{out}/nuscenes_infos_val.pkl"
    return paths


@pytest.fixture(scope="session")
def nusc(synthetic_nuscenes):
    from nuscenes.nuscenes import NuScenes

    return NuScenes(version="v1.0-mini", dataroot=str(synthetic_nuscenes), verbose=False)
