"""Shared helpers for the tests that run on info files made from the synthetic nuScenes set."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from bevfusion.datasets import NuScenesDataset
from bevfusion.structures import LiDARBoxes

REPO = Path(__file__).resolve().parents[2]
CREATE_DATA = str(REPO / "tools" / "create_data.py")
SYNTHETIC_CONFIG = str(REPO / "configs" / "_base_" / "datasets" / "synthetic_nuscenes.py")


@dataclass(frozen=True)
class Prepared:
    """A synthetic dataroot and the outputs create_data.py wrote for it."""

    root: str
    out: str
    info: dict[str, str]
    db_info: str


def load_infos(prepared: Prepared, split: str) -> dict:
    with open(prepared.info[split], "rb") as handle:
        return pickle.load(handle)


def info_boxes(info: dict, dtype=torch.float32) -> LiDARBoxes:
    """Every instance of an info sample as boxes (no filtering), velocity NaN -> 0."""
    rows = [list(item["bbox_3d"]) + list(item["velocity"]) for item in info["instances"]]
    return LiDARBoxes(torch.nan_to_num(torch.tensor(rows, dtype=dtype).reshape(-1, 9)))


def all_instances_dataset(prepared: Prepared, split: str, **kwargs) -> NuScenesDataset:
    """The split with every labelled box kept (also those without points), for geometry checks."""
    return NuScenesDataset(
        ann_file=prepared.info[split], data_root=prepared.root, test_mode=True, use_valid_flag=False, **kwargs
    )
