"""LiDAR SparseEncoder (BEVFusion nuScenes config) on a 10-sweep cloud: native engine next to spconv.

Each engine runs at its own correct setting, in its own process (the OpenMP thread count
is fixed once a process starts): spconv 2.3.8 single-threaded, because its CPU kernels
give wrong sums with more threads; ours at all cores, and at one thread for comparison.
Training (forward + backward) is timed for ours only: spconv's CPU backward needs CUDA.
The floor is the GEMM work, 2 * pairs * C_in * C_out summed over the convs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

from bevfusion.benchmarks.flops import sparse_conv_flops
from bevfusion.benchmarks.lidar_cloud import lidar_cloud
from bevfusion.benchmarks.timing import median_seconds
from bevfusion.models.lidar.sparse_encoder import SparseEncoder
from bevfusion.ops.voxelize import dynamic_voxelize_mean

VOXEL_SIZE = (0.075, 0.075, 0.2)
POINT_RANGE = (-54.0, -54.0, -5.0, 54.0, 54.0, 3.0)
# mmdetection3d's BEVFusion LiDAR encoder config (sizes in its (x, y, z) order).
ENCODER_CFG = dict(
    in_channels=5,
    sparse_shape=(1440, 1440, 41),
    output_channels=128,
    order=("conv", "norm", "act"),
    encoder_channels=((16, 16, 32), (32, 32, 64), (64, 64, 128), (128, 128)),
    encoder_paddings=((0, 0, 1), (0, 0, 1), (0, 0, (1, 1, 0)), (0, 0)),
    block_type="basicblock",
)


def _workload() -> dict:
    """Mean-voxelised 10-sweep cloud and an encoder state shared by every worker."""
    points = lidar_cloud(sweeps=10)
    features, coords, _ = dynamic_voxelize_mean(points, VOXEL_SIZE, POINT_RANGE)
    indices = torch.cat([torch.zeros(len(coords), 1, dtype=torch.int32), coords], dim=1)
    torch.manual_seed(0)
    encoder = SparseEncoder(**ENCODER_CFG)
    return {"points": len(points), "features": features, "indices": indices, "state_dict": encoder.state_dict()}


def _gemm_flops(workload: dict) -> float:
    """2 * pairs * C_in * C_out over every conv of one forward pass."""
    encoder = SparseEncoder(**ENCODER_CFG).eval()
    with sparse_conv_flops(encoder) as flops, torch.no_grad():
        encoder(workload["features"], workload["indices"], 1)
    return flops.total


def _time_worker(path: str, engine: str, mode: str, threads: int, repeats: int, device: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "bevfusion.benchmarks.bench_sparse", path, engine, mode, str(repeats), device]
    done = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> list[dict]:
    workload = _workload()
    cores = os.cpu_count() if args.device == "cpu" else 1
    common = {
        "points": workload["points"],
        "voxels": len(workload["features"]),
        "gemm_gflop": _gemm_flops(workload) / 1e9,
    }
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "workload.pt")
        torch.save(workload, path)
        spconv = _time_worker(path, "spconv", "forward", 1, args.repeats, args.device)
        spconv_bev = None
        if "skipped" in spconv:
            print(f"[skip] spconv baseline: {spconv['skipped']}")
        else:
            spconv_bev = torch.load(path + ".spconv.bev")
            rows.append({"op": "sparse_encoder_forward", "variant": "spconv_1thread", **spconv, **common})
        for threads in sorted({cores, 1}, reverse=True):
            ours = _time_worker(path, "native", "forward", threads, args.repeats, args.device)
            row = {"op": "sparse_encoder_forward", "variant": f"native_{threads}thread", **ours, **common}
            row["gemm_gflop_per_s"] = common["gemm_gflop"] / ours["seconds"]
            if spconv_bev is not None:
                row["speedup_vs_spconv_1thread"] = spconv["seconds"] / ours["seconds"]
                row["max_abs_diff_vs_spconv"] = (torch.load(path + ".native.bev") - spconv_bev).abs().max().item()
            rows.append(row)
        train = _time_worker(path, "native", "train", cores, args.repeats, args.device)
        rows.append({"op": "sparse_encoder_train_step", "variant": f"native_{cores}thread", **train, **common})
        if spconv_bev is not None:
            spconv_train = _time_worker(path, "spconv", "train", 1, args.repeats, args.device)
            if "skipped" in spconv_train:
                print(f"[skip] spconv training: {spconv_train['skipped']}")
            else:
                rows.append({"op": "sparse_encoder_train_step", "variant": "spconv_1thread", **spconv_train, **common})
    return rows


def _worker(path: str, engine: str, mode: str, repeats: int, device: str) -> dict:
    """Time one engine on the saved workload; print one JSON line."""
    workload = torch.load(path)
    try:
        encoder = SparseEncoder(backend=engine, **ENCODER_CFG)
    except ImportError as error:
        return {"skipped": str(error)}
    encoder.load_state_dict(workload["state_dict"])
    encoder.to(device)
    features, indices = workload["features"].to(device), workload["indices"].to(device)

    def forward():
        with torch.no_grad():
            return encoder(features, indices, 1)

    def train_step():
        encoder.zero_grad(set_to_none=True)
        encoder(features, indices, 1).square().mean().backward()

    if mode == "forward":
        encoder.eval()
        seconds = median_seconds(forward, repeats=repeats, device=device)
        torch.save(forward().cpu(), path + f".{engine}.bev")
    else:
        encoder.train()
        try:
            seconds = median_seconds(train_step, repeats=repeats, device=device)
        except Exception as error:  # spconv 2.3.8's CPU backward asks for a CUDA stream
            if engine == "native":
                raise
            return {"skipped": f"{engine} backward failed on {device}: {type(error).__name__}: {error}"}
    return {"seconds": seconds, "threads": torch.get_num_threads()}


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])))
