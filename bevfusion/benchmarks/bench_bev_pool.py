"""bev_pool next to its two classic baselines, at the paper's camera workload.

Workload: B=1, six nuScenes-like cameras (256x704 images, feature stride 8 -> fH=32, fW=88),
D=118 depth bins over [1, 60) m, C=80, a 360x360x1 grid over [-54, 54] m with 0.3 m cells.
The frustum comes from a real 6-camera rig so the cell occupancy is realistic.

Geometry: ours (C++ ranks + counting sort on CPU) against the same tensors from PyTorch ops
with a stable sort (the path CUDA tensors take).

Pooling baselines, both with the geometry cached like ours:
- naive: materialise the `(B, N, D, fH, fW, C)` frustum, keep the in-grid points, `index_add_`;
- lss_cumsum: materialise, sort by cell, cumsum, take interval ends (LSS's "cumsum trick").
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from bevfusion.benchmarks.timing import matmul_gflops, median_seconds, peak_allocated_bytes
from bevfusion.ops.bev_pool import BEVPoolGeometry, bev_pool, bev_pool_geometry, cells_along
from bevfusion.ops.bev_pool.geometry import geometry_tensors_torch
from bevfusion.structures.calibration import CalibrationBundle

XBOUND = (-54.0, 54.0, 0.3)
YBOUND = (-54.0, 54.0, 0.3)
ZBOUND = (-10.0, 10.0, 20.0)
DBOUND = (1.0, 60.0, 0.5)
IMAGE_SIZE = (256, 704)
FEATURE_STRIDE = 8
CHANNELS = 80

# (yaw of the optical axis from +x toward +y in degrees, focal length in pixels) per camera,
# nuScenes order: FRONT, FRONT_RIGHT, FRONT_LEFT, BACK, BACK_LEFT, BACK_RIGHT (the back lens is wider).
NUSCENES_LIKE_CAMERAS = (
    (0.0, 1266.0),
    (-55.0, 1260.0),
    (55.0, 1272.0),
    (180.0, 809.0),
    (110.0, 1256.0),
    (-110.0, 1259.0),
)
RAW_IMAGE_SIZE = (900, 1600)
RESIZE = 0.48


def nuscenes_like_rig() -> CalibrationBundle:
    """Six cameras 1.6 m above ground around the LiDAR, images resized by 0.48 and cropped to 256x704 (bottom kept)."""
    cam2img, lidar2cam, img_aug = [], [], []
    raw_h, raw_w = RAW_IMAGE_SIZE
    crop_top = raw_h * RESIZE - IMAGE_SIZE[0]
    crop_left = (raw_w * RESIZE - IMAGE_SIZE[1]) / 2
    for yaw_degrees, focal in NUSCENES_LIKE_CAMERAS:
        yaw = math.radians(yaw_degrees)
        forward = torch.tensor([math.cos(yaw), math.sin(yaw), 0.0], dtype=torch.float64)
        right = torch.tensor([math.sin(yaw), -math.cos(yaw), 0.0], dtype=torch.float64)
        down = torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64)
        cam2lidar = torch.eye(4, dtype=torch.float64)
        cam2lidar[:3, :3] = torch.stack([right, down, forward], dim=1)
        cam2lidar[:3, 3] = 0.8 * forward + torch.tensor([0.0, 0.0, -0.3], dtype=torch.float64)
        lidar2cam.append(torch.linalg.inv(cam2lidar))
        cam2img.append(torch.tensor([[focal, 0, raw_w / 2], [0, focal, raw_h / 2], [0, 0, 1]], dtype=torch.float64))
        aug = torch.eye(4, dtype=torch.float64)
        aug[0, 0] = aug[1, 1] = RESIZE
        aug[:2, 3] = torch.tensor([-crop_left, -crop_top], dtype=torch.float64)
        img_aug.append(aug)
    return CalibrationBundle.from_cameras(torch.stack(cam2img), torch.stack(lidar2cam), torch.stack(img_aug))


def frustum_points(rig: CalibrationBundle) -> torch.Tensor:
    """LiDAR-frame xyz `(1, N, D, fH, fW, 3)` of every (depth bin, feature pixel), as LSS builds its frustum."""
    height, width = IMAGE_SIZE
    depths = torch.arange(*DBOUND, dtype=torch.float64)
    rows = torch.linspace(0, height - 1, height // FEATURE_STRIDE, dtype=torch.float64)
    cols = torch.linspace(0, width - 1, width // FEATURE_STRIDE, dtype=torch.float64)
    d, v, u = torch.meshgrid(depths, rows, cols, indexing="ij")
    pixels = torch.stack([u * d, v * d, d, torch.ones_like(d)], dim=-1)  # (D, fH, fW, 4)
    points = torch.einsum("nij,dhwj->ndhwi", rig.img2lidar, pixels)[..., :3]
    return points.unsqueeze(0).float().contiguous()


def naive_pool(depth: torch.Tensor, context: torch.Tensor, cache: dict) -> torch.Tensor:
    """Materialise depth x context, keep in-grid points, `index_add_` them into their cells."""
    frustum = (depth.unsqueeze(-1) * context.unsqueeze(2)).view(-1, context.shape[-1])
    cells = frustum.new_zeros(cache["num_cells"], context.shape[-1])
    cells.index_add_(0, cache["kept_cell"], frustum[cache["kept_point"]])
    return to_bev_layout(cells, cache["output_shape"])


def lss_cumsum_pool(depth: torch.Tensor, context: torch.Tensor, cache: dict) -> torch.Tensor:
    """Materialise, order by cell, cumsum, and difference the sums at interval ends (LSS)."""
    frustum = (depth.unsqueeze(-1) * context.unsqueeze(2)).view(-1, context.shape[-1])
    sums = frustum[cache["sorted_point"]].cumsum(0)[cache["interval_end"]]
    sums = torch.cat([sums[:1], sums[1:] - sums[:-1]])
    cells = frustum.new_zeros(cache["num_cells"], context.shape[-1])
    cells[cache["interval_cell"]] = sums
    return to_bev_layout(cells, cache["output_shape"])


def to_bev_layout(cells: torch.Tensor, output_shape: tuple[int, int, int, int]) -> torch.Tensor:
    """`(B*nz*nx*ny, C)` rows in rank order -> `(B, nz*C, nx, ny)`."""
    batch, _, num_x, num_y = output_shape
    channels = cells.shape[-1]
    return cells.view(batch, -1, num_x, num_y, channels).permute(0, 1, 4, 2, 3).reshape(output_shape)


def baseline_cache(geometry: BEVPoolGeometry, channels: int) -> dict:
    """The baselines' share of the cached geometry (long indices, as those implementations use)."""
    point_cell = geometry.point_cell.long()
    kept_point = torch.nonzero(point_cell >= 0).squeeze(1)
    sorted_point = geometry.point_depth_index.long()
    sorted_cell = point_cell[sorted_point]
    interval_end = torch.ones_like(sorted_cell, dtype=torch.bool)
    interval_end[:-1] = sorted_cell[1:] != sorted_cell[:-1]
    return {
        "num_cells": geometry.cell_start.numel() - 1,
        "output_shape": geometry.output_shape(channels),
        "kept_point": kept_point,
        "kept_cell": point_cell[kept_point],
        "sorted_point": sorted_point,
        "interval_end": interval_end,
        "interval_cell": sorted_cell[interval_end],
    }


def run(args: argparse.Namespace) -> list[dict]:
    device, repeats = args.device, args.repeats
    torch.manual_seed(0)
    points = frustum_points(nuscenes_like_rig()).to(device)
    batch, cameras, depth_bins, height, width, _ = points.shape
    depth = torch.rand(batch, cameras, depth_bins, height, width, device=device).softmax(2)
    context = torch.randn(batch, cameras, height, width, CHANNELS, device=device)

    geometry_seconds = median_seconds(lambda: bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND), repeats, device=device)
    lower, step = tuple(b[0] for b in (XBOUND, YBOUND, ZBOUND)), tuple(b[2] for b in (XBOUND, YBOUND, ZBOUND))
    cells = tuple(cells_along(b) for b in (XBOUND, YBOUND, ZBOUND))
    torch_geometry_seconds = median_seconds(
        lambda: geometry_tensors_torch(points, lower, step, cells), repeats, device=device
    )
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    cache = baseline_cache(geometry, CHANNELS)
    variants = {
        "naive_index_add": lambda: naive_pool(depth, context, cache),
        "lss_cumsum": lambda: lss_cumsum_pool(depth, context, cache),
        "bev_pool": lambda: bev_pool(depth, context, geometry),
    }
    expected = variants["naive_index_add"]()
    for name, fn in variants.items():
        torch.testing.assert_close(fn(), expected, rtol=1e-4, atol=1e-4, msg=f"bev_pool benchmark: {name} disagrees")

    seconds = {name: median_seconds(fn, repeats, device=device) for name, fn in variants.items()}
    # CPU time of all threads: on a shared CPU machine it is far less disturbed by other load than wall time.
    cpu_seconds = {}
    if torch.device(device).type == "cpu":
        cpu_seconds = {name: median_seconds(fn, repeats, clock=time.process_time) for name, fn in variants.items()}
    peak_bytes = {name: peak_allocated_bytes(fn, device) for name, fn in variants.items()}
    flops = 2 * geometry.num_points * CHANNELS
    element = depth.element_size()
    # Floor traffic: each input read once, the output written once, the cached indices read once.
    floor_bytes = (depth.numel() + context.numel() + expected.numel()) * element + 4 * (
        2 * geometry.num_points + geometry.cell_start.numel()
    )
    machine_gflops = matmul_gflops(device=device)
    workload = {
        "frustum_points": depth.numel(),
        "points_in_grid": geometry.num_points,
        "occupied_cells": int((geometry.cell_start[1:] > geometry.cell_start[:-1]).sum()),
        "grid_cells": geometry.cell_start.numel() - 1,
    }
    rows = [
        {"op": "bev_pool_geometry", "variant": "pytorch_sort", "seconds": torch_geometry_seconds},
        {
            "op": "bev_pool_geometry",
            "variant": "bev_pool_geometry",
            "seconds": geometry_seconds,
            "speedup_vs_pytorch_sort": torch_geometry_seconds / geometry_seconds,
            **workload,
        },
    ]
    for name in variants:
        row = {
            "op": "bev_pool_forward",
            "variant": name,
            "seconds": seconds[name],
            "gflops": flops / seconds[name] / 1e9,
            "fraction_of_mm_gflops": flops / seconds[name] / 1e9 / machine_gflops,
            "floor_gb_per_s": floor_bytes / seconds[name] / 1e9,
            "peak_alloc_mb": peak_bytes[name] / 2**20,
        }
        if cpu_seconds:
            row["cpu_seconds"] = cpu_seconds[name]
        if name == "bev_pool":
            for baseline in ("naive_index_add", "lss_cumsum"):
                row[f"speedup_vs_{baseline}"] = seconds[baseline] / seconds[name]
                if cpu_seconds:
                    row[f"cpu_time_speedup_vs_{baseline}"] = cpu_seconds[baseline] / cpu_seconds[name]
            row.update(
                flops=flops,
                floor_mb=floor_bytes / 2**20,
                mm_gflops=machine_gflops,
            )
        rows.append(row)
    rows.extend(training_rows(depth, context, geometry, cache, repeats, device))
    return rows


def training_rows(
    depth: torch.Tensor, context: torch.Tensor, geometry: BEVPoolGeometry, cache: dict, repeats: int, device: str
) -> list[dict]:
    """Forward plus backward to depth and context (a training step's share), ours against naive autograd."""
    inputs = (depth.clone().requires_grad_(), context.clone().requires_grad_())
    grad_out = torch.randn(geometry.output_shape(context.shape[-1]), device=device)
    variants = {
        "naive_index_add": lambda: torch.autograd.grad(naive_pool(*inputs, cache), inputs, grad_out),
        "bev_pool": lambda: torch.autograd.grad(bev_pool(*inputs, geometry), inputs, grad_out),
    }
    torch.testing.assert_close(
        variants["bev_pool"](), variants["naive_index_add"](), rtol=1e-4, atol=1e-4, msg="bev_pool gradients disagree"
    )
    seconds = {name: median_seconds(fn, repeats, device=device) for name, fn in variants.items()}
    rows = [{"op": "bev_pool_forward_backward", "variant": name, "seconds": seconds[name]} for name in variants]
    rows[-1]["speedup_vs_naive_index_add"] = seconds["naive_index_add"] / seconds["bev_pool"]
    return rows
