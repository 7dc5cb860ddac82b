"""Fit a tiny synthetic config's training into a wall-clock budget on this machine.

`make demo` and `tools/benchmark.py learn` both time a few iterations of `tools/train.py` (the steady
rate and the run's fixed start-up cost, `Timing`), then train for the iterations that fit, with the
config's schedule stretched to that length by `rescale_schedule` (every scheduler's begin, end and
T_max by one factor, so the shape is kept).

The camera+LiDAR model is trained as the paper trains it, LiDAR-only first, but inside one
schedule (`train_fusion_within`): the LiDAR-only run takes the first part of the schedule sized
for the whole budget, and the fusion model, initialised from it, continues from the lr it
reached. Restarting a full schedule for the fusion stage re-warms the lr of a trained model:
measured from a 964-iteration LiDAR-only model (val mAP 0.550), 520 more LiDAR-only iterations
under a fresh one-cycle schedule (matched IoU 0.30 -> 0.15 at its peak) ended at only 0.570.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIGS = {
    "lidar": REPO / "configs" / "bevfusion" / "bevfusion_lidar_synthetic_tiny.py",
    "camera": REPO / "configs" / "bevfusion" / "bevfusion_cam_synthetic_tiny.py",
    "fusion": REPO / "configs" / "bevfusion" / "bevfusion_lidar-cam_synthetic_tiny.py",
}
CALIBRATION_WINDOWS = (2, 6)  # logged windows x iterations each; every window after the first gives the speed
SCHEDULE_KEYS = ("begin", "end", "T_max")
FUSION_LIDAR_SHARE = 0.5  # the LiDAR-only stage's part of the camera+LiDAR schedule


def rescale_schedule(config: Config, max_iters: int) -> None:
    """Set an iteration-based config's length to `max_iters`, stretching every scheduler by the same factor."""
    if config.train_cfg.get("type") != "IterBasedTrainLoop":
        raise ValueError("rescale_schedule: the config must train with IterBasedTrainLoop")
    factor = max_iters / config.train_cfg.max_iters
    for scheduler in config.param_scheduler:
        if scheduler.get("by_epoch", True):
            raise ValueError(f"rescale_schedule: scheduler {scheduler['type']} must be iteration-based")
        for key in SCHEDULE_KEYS:
            if key in scheduler:
                scheduler[key] = max(1, round(scheduler[key] * factor))
    config.train_cfg.max_iters = max_iters
    config.train_cfg.val_interval = max_iters
    config.default_hooks.checkpoint.interval = max_iters


def lr_after(config: Config, iterations: int) -> float:
    """The lr that `config`'s schedule (mmengine's own schedulers) sets after `iterations` training iterations."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.optim_wrapper.optimizer.lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(scheduler, optimizer=optimizer)) for scheduler in config.param_scheduler]
    for _ in range(iterations):
        optimizer.step()  # a no-op (no gradient), in the order mmengine's training loop keeps
        for scheduler in schedulers:
            scheduler.step()
    return optimizer.param_groups[0]["lr"]


def continue_schedule(config: Config, max_iters: int, start_lr: float, end_lr: float) -> None:
    """Train `max_iters` iterations with the lr annealed (cosine) from `start_lr` to `end_lr`."""
    rescale_schedule(config, max_iters)
    config.optim_wrapper.optimizer.lr = start_lr
    config.param_scheduler = [
        dict(type="CosineAnnealingLR", T_max=max_iters, eta_min=end_lr, begin=0, end=max_iters, by_epoch=False)
    ]


def tiny_config(name: str, data_root: Path, camera_pretrained: str | None = None) -> Config:
    """A tiny config pointed at `data_root`; it is scored once, by tools/test.py, so it validates nothing.

    `camera_pretrained`: a torchvision ResNet-18 state dict for the camera backbone of the configs that have one
    (the paper's camera starts from pretrained weights; without it the tiny configs' starts from random ones).
    """
    config = Config.fromfile(str(TINY_CONFIGS[name]))
    if camera_pretrained and "camera" in config.model.encoders:
        config.model.encoders.camera.backbone.pretrained = str(camera_pretrained)
    root = os.path.join(str(data_root), "")
    train = config.train_dataloader.dataset.dataset
    train.data_root = root
    for step in train.pipeline:
        if "data_root" in step:
            step["data_root"] = root
    config.test_dataloader.dataset.data_root = root
    config.test_evaluator.data_root = root
    config.val_dataloader = config.val_cfg = config.val_evaluator = None
    return config


def run_tool(arguments: list[str], log: Path | None = None) -> float:
    """Run `python <arguments>` in the repository (output to `log`, or to this terminal); returns its wall time."""
    start = time.perf_counter()
    command = [sys.executable, *arguments]
    if log is None:
        returncode = subprocess.run(command, cwd=REPO).returncode
    else:
        with open(log, "w") as handle:
            returncode = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO).returncode
    if returncode:
        where = f"; its output is in {log}" if log is not None else ""
        raise RuntimeError(f"`{' '.join(arguments)}` failed with exit code {returncode}{where}")
    return time.perf_counter() - start


def train(config: Config, run_dir: Path, quiet: bool = True) -> float:
    """Dump `config` into `run_dir` and train it there with tools/train.py; returns the wall time.

    Quiet runs log to `run_dir/train.log`; the others print about 40 progress lines here.
    """
    if not quiet:
        config.default_hooks.logger.interval = max(1, config.train_cfg.max_iters // 40)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.dump(str(run_dir / "config.py"))
    log = run_dir / "train.log" if quiet else None
    return run_tool(["tools/train.py", str(run_dir / "config.py"), "--work-dir", str(run_dir)], log)


def seconds_per_iter(log: Path, skip: int = 1) -> float:
    """The mean iteration time of the logged windows after the first `skip` (mmengine's `time: ...` fields)."""
    times = [float(value) for value in re.findall(r"\btime: ([0-9.]+)", log.read_text())][skip:]
    if not times:
        raise RuntimeError(f"{log}: no iteration times logged after the first {skip} window(s)")
    return sum(times) / len(times)


@dataclass(frozen=True)
class Timing:
    """How long a tiny config trains on this machine: seconds per iteration, and the fixed cost of a run.

    The fixed cost (process start, model build, data workers, the slower first iterations, the checkpoint)
    is a run's wall time beyond its iterations at the steady rate: 12-14 s a run on the 2-core VM, which
    a plan from the steady rate alone put over the budget (learning benchmark rows of 30.9-31.3 minutes).
    """

    seconds_per_iter: float
    startup_seconds: float = 0.0

    def iterations_within(self, seconds: float) -> int:
        """The iterations of a run that should end within `seconds` of wall time (at least 1)."""
        return max(1, int((seconds - self.startup_seconds) / self.seconds_per_iter))


def calibrate(name: str, data_root: Path, run_dir: Path, windows: tuple[int, int] = CALIBRATION_WINDOWS) -> Timing:
    """A tiny config's `Timing` on this machine, from a short tools/train.py run.

    `windows` = (logged windows, iterations each); the first window (start-up) is left out of the rate and
    counts, with everything else outside the steady iterations, as the run's fixed cost.
    """
    count, size = windows
    config = tiny_config(name, data_root)
    rescale_schedule(config, count * size)
    config.log_processor.window_size = config.default_hooks.logger.interval = size
    wall = train(config, run_dir)
    rate = seconds_per_iter(run_dir / "train.log")
    return Timing(rate, max(0.0, wall - count * size * rate))


def train_within(
    name: str,
    minutes: float,
    timing: Timing,
    data_root: Path,
    run_dir: Path,
    quiet: bool = True,
    camera_pretrained: str | None = None,
) -> tuple[Path, int, float]:
    """Train a tiny config for about `minutes`; returns its last checkpoint, the iterations and the wall time."""
    config = tiny_config(name, data_root, camera_pretrained)
    max_iters = timing.iterations_within(minutes * 60)
    rescale_schedule(config, max_iters)
    seconds = train(config, run_dir, quiet)
    return run_dir / f"iter_{max_iters}.pth", max_iters, seconds


def train_fusion_within(
    minutes: float,
    lidar_share: float,
    timings: dict[str, Timing],
    data_root: Path,
    work: Path,
    quiet: bool = True,
    camera_pretrained: str | None = None,
) -> tuple[Path, list[int], list[float]]:
    """LiDAR-only for `lidar_share` of a schedule sized for `minutes`, then camera+LiDAR continuing it.

    The fusion stage anneals (cosine) from the lr the LiDAR stage reached to the schedule's last `eta_min`.

    `timings` holds the `Timing` of "lidar" and "fusion" (`calibrate`). The LiDAR stage is the first part
    of the schedule a LiDAR-only run of `minutes` would train; the fusion stage gets the iterations that fit
    into the time the LiDAR stage actually left; its camera backbone starts from `camera_pretrained` when
    given. Returns the last checkpoint, both stages' iterations and their wall times.
    """
    lidar = tiny_config("lidar", data_root)
    rescale_schedule(lidar, timings["lidar"].iterations_within(minutes * 60))
    cut = max(1, round(lidar_share * lidar.train_cfg.max_iters))
    start_lr, end_lr = lr_after(lidar, cut), lidar.param_scheduler[-1]["eta_min"]
    lidar.train_cfg.max_iters = lidar.train_cfg.val_interval = lidar.default_hooks.checkpoint.interval = cut
    lidar_seconds = train(lidar, work / "0_lidar", quiet)
    fusion = tiny_config("fusion", data_root, camera_pretrained)
    fusion_iters = timings["fusion"].iterations_within(minutes * 60 - lidar_seconds)
    continue_schedule(fusion, fusion_iters, start_lr, end_lr)
    fusion.load_from = str(work / "0_lidar" / f"iter_{cut}.pth")
    fusion_seconds = train(fusion, work / "1_fusion", quiet)
    return work / "1_fusion" / f"iter_{fusion_iters}.pth", [cut, fusion_iters], [lidar_seconds, fusion_seconds]
