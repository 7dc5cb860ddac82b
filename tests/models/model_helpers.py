"""Configs and synthetic batches for detector tests."""

from __future__ import annotations

from pathlib import Path

from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from bevfusion.registry import DATASETS, MODELS, register_all_modules

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "bevfusion"
TINY = {
    "lidar": CONFIGS / "bevfusion_lidar_synthetic_tiny.py",
    "camera": CONFIGS / "bevfusion_cam_synthetic_tiny.py",
    "fusion": CONFIGS / "bevfusion_lidar-cam_synthetic_tiny.py",
}


def load_config(path: Path) -> Config:
    register_all_modules()
    return Config.fromfile(str(path))


def build_model(path: Path):
    return MODELS.build(load_config(path).model)


def packed_samples(config: Config, info_file: str, data_root: str, indices=(0, 1), train: bool = False) -> list:
    """Samples of `info_file` through the config's val pipeline, or its train pipeline without GT sampling."""
    loader = config.train_dataloader if train else config.val_dataloader
    dataset_cfg = loader.dataset.dataset if train else loader.dataset
    pipeline = [step for step in dataset_cfg.pipeline if step["type"] != "ObjectSample"]
    dataset = DATASETS.build(
        {**dataset_cfg, "ann_file": info_file, "data_root": data_root, "pipeline": pipeline, "test_mode": True}
    )
    return [dataset[index] for index in indices]


def batch_of(samples: list) -> dict:
    return pseudo_collate(samples)
