"""Inference of the paper's camera+LiDAR model on one full-size sample, stage by stage, next to the machine's floor.

The sample is a synthetic one through the config's test pipeline: six 256x704 images and
a 10-frame LiDAR cloud (about 300k points). The model runs in eval mode on all CPU threads
with its view-transform geometry cached (a warm-up call fills the cache). Each stage's wall
time is taken by wrapping the callable that runs it; "post-processing" is the head's
`predict` less its network forward, "other" is end to end less every stage (batching,
normalisation). FLOPs: dense ops from `torch.utils.flop_counter`, plus the sparse convs'
`2 * pairs * C_in * C_out` and bev_pool's `2 * points * C`, which it cannot see.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch.utils.flop_counter import FlopCounterMode

from bevfusion.registry import DATASETS, MODELS, register_all_modules

from .flops import sparse_conv_flops
from .timing import machine_info, matmul_gflops, memory_bandwidth_gbs, peak_allocated_bytes, synchronize

DEFAULT_CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "bevfusion" / "bevfusion_lidar-cam_nuscenes.py")
# Stage -> (module path, callable attribute) pairs whose calls are timed under it, in pipeline order.
STAGES = {
    "image backbone + neck": [("encoders.camera.backbone", "forward"), ("encoders.camera.neck", "forward")],
    "depth net (with depth hint)": [
        ("encoders.camera.vtransform", "depth_image"),
        ("encoders.camera.vtransform", "depth_and_context"),
    ],
    "bev_pool (cached geometry)": [("encoders.camera.vtransform", "pool")],
    "camera BEV downsample": [("encoders.camera.vtransform.downsample", "forward")],
    "LiDAR voxelize": [("data_preprocessor", "voxelize")],
    "sparse encoder (+ mean VFE)": [
        ("encoders.lidar.voxel_encoder", "forward"),
        ("encoders.lidar.backbone", "forward"),
    ],
    "fuser": [("fuser", "forward")],
    "decoder (SECOND + FPN)": [("decoder.backbone", "forward"), ("decoder.neck", "forward")],
    "head": [("heads.object", "forward")],
    "head + post-processing": [("heads.object", "predict")],
}
VIEW_TRANSFORM = ("depth net (with depth hint)", "bev_pool (cached geometry)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="the model config (default: paper camera+LiDAR)")
    parser.add_argument("--data-root", default="data/synthetic", help="a nuScenes-layout root with info files")
    parser.add_argument("--sample", type=int, default=5, help="index into the val info file (with 9 sweeps)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)


class StageClock:
    """Accumulates the wall time of wrapped callables under stage names, per run."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner, attribute: str, stage: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args, **kwargs):
            synchronize(self.device)
            start = time.perf_counter()
            result = original(*args, **kwargs)
            synchronize(self.device)
            self.seconds[stage] += time.perf_counter() - start
            return result

        setattr(owner, attribute, timed)


def _sample(config: Config, data_root: str, index: int) -> dict:
    dataset_cfg = config.test_dataloader.dataset
    info = os.path.join(data_root, dataset_cfg.ann_file)
    if not os.path.isfile(info):
        raise SystemExit(
            f"{info} not found: create the data first (tools/create_synthetic_nuscenes.py, then "
            f"tools/create_data.py nuscenes --root-path {data_root} --version v1.0-mini)"
        )
    dataset = DATASETS.build({**dataset_cfg, "data_root": os.path.join(data_root, "")})
    return pseudo_collate([dataset[index]])


def _flops(model, data: dict) -> dict[str, float]:
    """Dense FLOPs (torch's counter) and the sparse convs' and bev_pool's, of one inference."""
    counter = FlopCounterMode(display=False)
    with sparse_conv_flops(model) as sparse, counter, torch.no_grad():
        model.test_step(data)
    vtransform = model.encoders["camera"]["vtransform"] if "camera" in model.encoders else None
    pool = 0.0
    if vtransform is not None and vtransform._cached_geometry is not None:
        pool = 2.0 * vtransform._cached_geometry.num_points * vtransform.out_channels
    return {"dense": float(counter.get_total_flops()), "sparse_conv": sparse.total, "bev_pool": pool}


def run(args: argparse.Namespace) -> list[dict]:
    register_all_modules()
    config = Config.fromfile(args.config)
    data = _sample(config, args.data_root, args.sample)
    torch.manual_seed(0)
    model = MODELS.build(config.model).to(args.device).eval()
    inputs = model.data_preprocessor(data, False)["inputs"]
    workload = {
        "points": int(sum(len(points) for points in inputs["points"])),
        "voxels": int(len(inputs["voxels"]["coors"])) if "voxels" in inputs else 0,
        "images": list(inputs["imgs"].shape) if "imgs" in inputs else None,
    }
    clock = StageClock(args.device)
    for stage, targets in STAGES.items():
        for path, attribute in targets:
            try:
                owner = model.get_submodule(path)
            except AttributeError:
                continue  # a stage this config does not have
            clock.wrap(owner, attribute, stage)

    def infer():
        with torch.no_grad():
            model.test_step(data)

    infer()  # warm-up: fills the geometry cache
    runs = []
    for _ in range(args.repeats):
        clock.seconds.clear()
        synchronize(args.device)
        start = time.perf_counter()
        infer()
        synchronize(args.device)
        runs.append({"end to end": time.perf_counter() - start, **clock.seconds})
    seconds = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    seconds["post-processing"] = seconds.pop("head + post-processing") - seconds["head"]
    stages = sum(value for stage, value in seconds.items() if stage != "end to end")
    seconds["other (batching, normalisation)"] = seconds["end to end"] - stages

    flops = _flops(model, data)
    total_flops = sum(flops.values())
    peak = peak_allocated_bytes(infer, args.device)
    mm = matmul_gflops(device=args.device)
    end_to_end = seconds["end to end"]
    view_transform = sum(seconds.get(stage, 0.0) for stage in VIEW_TRANSFORM)
    rows = [
        {"op": "model", "variant": stage, "seconds": value, "fraction_of_end_to_end": value / end_to_end}
        for stage, value in seconds.items()
        if stage != "end to end"
    ]
    rows.append(
        {
            "op": "model",
            "variant": "end to end",
            "seconds": end_to_end,
            "view_transform_fraction": view_transform / end_to_end,
            "gflop": total_flops / 1e9,
            "gflop_dense": flops["dense"] / 1e9,
            "gflop_sparse_conv": flops["sparse_conv"] / 1e9,
            "gflop_bev_pool": flops["bev_pool"] / 1e9,
            "gflop_per_s": total_flops / end_to_end / 1e9,
            "mm_gflop_per_s": mm,
            "fraction_of_mm_gflop_per_s": total_flops / end_to_end / 1e9 / mm,
            "memory_bandwidth_gb_per_s": memory_bandwidth_gbs(device=args.device),
            "peak_alloc_mb": peak / 2**20,
            "config": os.path.basename(args.config),
            **workload,
            "threads": machine_info()["torch_threads"],
        }
    )
    print_model_table(rows)
    return rows


def print_model_table(rows: list[dict]) -> None:
    """Milliseconds and share of end to end per stage, then the totals against the machine's floor."""
    total = rows[-1]
    workload = f"{total['points']} points, images {total['images']}, {total['threads']} threads"
    print(f"\n== model ({total['config']}, {workload})")
    for row in rows[:-1]:
        print(f"  {row['variant']:<34} {row['seconds'] * 1e3:10.1f} ms  {100 * row['fraction_of_end_to_end']:5.1f} %")
    print(f"  {'end to end':<34} {total['seconds'] * 1e3:10.1f} ms")
    print(
        f"  view transform (depth net + bev_pool) {100 * total['view_transform_fraction']:.1f} % of end to end; "
        f"{total['gflop']:.0f} GFLOP at {total['gflop_per_s']:.1f} GFLOP/s = "
        f"{100 * total['fraction_of_mm_gflop_per_s']:.0f} % of torch.mm's {total['mm_gflop_per_s']:.1f} GFLOP/s; "
        f"peak {total['peak_alloc_mb']:.0f} MiB allocated"
    )
