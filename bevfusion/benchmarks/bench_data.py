"""Data loading throughput of the full-size training pipeline (10 LiDAR frames, 6 cameras, all augmentations).

Rows: the time per sample of every transform and of the whole pipeline in one process
(one torch thread, as inside a DataLoader worker), a
DataLoader with `--workers` processes (samples/s), and the floor it is compared with:
reading the same LiDAR files and decoding the same JPEGs, nothing else.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from bevfusion.registry import DATASETS, register_all_modules

from .ops import print_table

DEFAULT_CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "_base_" / "datasets" / "nuscenes.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default="data/synthetic", help="a nuScenes-layout root with info files")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config whose train pipeline is timed")
    parser.add_argument("--samples", type=int, default=12, help="samples timed per measurement")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")


def _dataset(args: argparse.Namespace):
    register_all_modules()
    config = Config.fromfile(args.config)
    dataset_cfg = config.train_dataloader.dataset
    dataset_cfg = dataset_cfg.get("dataset", dataset_cfg)  # unwrap CBGS: time the plain sample order
    data_root = os.path.join(args.data_root, "")
    info = os.path.join(data_root, dataset_cfg.ann_file)
    if not os.path.isfile(info):
        raise SystemExit(
            f"{info} not found: create the data first (tools/create_synthetic_nuscenes.py, then "
            f"tools/create_data.py nuscenes --root-path {args.data_root} --version v1.0-mini)"
        )
    pipeline = []
    for step in dataset_cfg.pipeline:
        step = dict(step)
        if "data_root" in step:
            step["data_root"] = data_root
        pipeline.append(step)
    return DATASETS.build({**dataset_cfg, "data_root": data_root, "pipeline": pipeline})


def _stage_rows(dataset, count: int) -> list[dict]:
    """Mean seconds per sample of every transform, with one torch thread as in a DataLoader worker."""
    transforms = dataset.pipeline.transforms
    totals = np.zeros(len(transforms))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for index in range(count):
        results = dataset.get_data_info(index % len(dataset))
        for position, transform in enumerate(transforms):
            start = time.perf_counter()
            results = transform(results)
            totals[position] += time.perf_counter() - start
    torch.set_num_threads(threads)
    return [
        {"op": "data.stage", "variant": type(transform).__name__, "seconds": float(total / count)}
        for transform, total in zip(transforms, totals)
    ]


def _floor_seconds(dataset, count: int, sweeps: int) -> tuple[float, float]:
    """Seconds per sample to read the LiDAR files and decode the JPEGs, and the bytes read per sample."""
    seconds, total_bytes = 0.0, 0
    for index in range(count):
        info = dataset.get_data_info(index % len(dataset))
        paths = [info["lidar_points"]["lidar_path"]] + [
            s["lidar_points"]["lidar_path"] for s in info["lidar_sweeps"][:sweeps]
        ]
        images = [image["img_path"] for image in info["images"].values()]
        start = time.perf_counter()
        for path in paths:
            np.fromfile(path, dtype=np.float32)
        for path in images:
            cv2.imread(path, cv2.IMREAD_COLOR)
        seconds += time.perf_counter() - start
        total_bytes += sum(os.path.getsize(path) for path in paths + images)
    return seconds / count, total_bytes / count


def _loader_seconds(dataset, count: int, workers: int) -> float:
    """Seconds per sample through a DataLoader (after its workers have started and produced one batch)."""
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, [i % len(dataset) for i in range(count + workers)]),
        batch_size=1,
        num_workers=workers,
        collate_fn=pseudo_collate,
    )
    iterator = iter(loader)
    for _ in range(workers):
        next(iterator)
    start = time.perf_counter()
    for _ in iterator:
        pass
    return (time.perf_counter() - start) / count


def run(args: argparse.Namespace) -> list[dict]:
    dataset = _dataset(args)
    sweeps = next(step.sweeps_num for step in dataset.pipeline.transforms if hasattr(step, "sweeps_num"))
    rows = _stage_rows(dataset, args.samples)
    pipeline_seconds = sum(row["seconds"] for row in rows)
    floor, bytes_per_sample = _floor_seconds(dataset, args.samples, sweeps)
    rows.append(
        {
            "op": "data.floor",
            "variant": f"read {sweeps + 1} lidar + decode {len(dataset.get_data_info(0)['images'])} jpeg",
            "seconds": floor,
            "megabytes_per_sample": bytes_per_sample / 1e6,
        }
    )
    rows.append(
        {
            "op": "data.pipeline",
            "variant": "1 process",
            "seconds": pipeline_seconds,
            "samples_per_s": 1.0 / pipeline_seconds,
            "x_floor": pipeline_seconds / floor,
        }
    )
    loader = _loader_seconds(dataset, args.samples, args.workers)
    rows.append(
        {
            "op": "data.loader",
            "variant": f"DataLoader workers={args.workers}",
            "seconds": loader,
            "samples_per_s": 1.0 / loader,
            "x_1_process": pipeline_seconds / loader,
        }
    )
    print_table("data", rows)
    return rows
