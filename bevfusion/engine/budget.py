"""Fit a tiny synthetic config's training into a wall-clock budget on this machine.

`make demo` and `tools/benchmark.py learn` both time a few iterations of `tools/train.py`, then
train for the iterations that fit, with the config's schedule stretched to that length by
`rescale_schedule` (every scheduler's begin, end and T_max by one factor, so the shape is kept).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIGS = {
    "lidar": REPO / "configs" / "bevfusion" / "bevfusion_lidar_synthetic_tiny.py",
    "camera": REPO / "configs" / "bevfusion" / "bevfusion_cam_synthetic_tiny.py",
    "fusion": REPO / "configs" / "bevfusion" / "bevfusion_lidar-cam_synthetic_tiny.py",
}
CALIBRATION_ITERS = 12  # logged in two windows of 6: the second, after warm-up, gives the speed
SCHEDULE_KEYS = ("begin", "end", "T_max")


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


def tiny_config(name: str, data_root: Path) -> Config:
    """A tiny config pointed at `data_root`; it is scored once, by tools/test.py, so it validates nothing."""
    config = Config.fromfile(str(TINY_CONFIGS[name]))
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
    """Dump `config` into `run_dir` and train it there with tools/train.py; returns the wall time."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config.dump(str(run_dir / "config.py"))
    log = run_dir / "train.log" if quiet else None
    return run_tool(["tools/train.py", str(run_dir / "config.py"), "--work-dir", str(run_dir)], log)


def seconds_per_iter(log: Path) -> float:
    """The mean iteration time of the last logged window (mmengine's `time: ...` field)."""
    times = [float(value) for value in re.findall(r"\btime: ([0-9.]+)", log.read_text())]
    if not times:
        raise RuntimeError(f"{log}: no iteration times logged")
    return times[-1]


def calibrate(name: str, data_root: Path, run_dir: Path) -> float:
    """Seconds per training iteration of a tiny config on this machine, from a short tools/train.py run."""
    config = tiny_config(name, data_root)
    rescale_schedule(config, CALIBRATION_ITERS)
    config.log_processor.window_size = config.default_hooks.logger.interval = CALIBRATION_ITERS // 2
    train(config, run_dir)
    return seconds_per_iter(run_dir / "train.log")


def train_within(
    name: str,
    minutes: float,
    seconds_per_iteration: float,
    data_root: Path,
    run_dir: Path,
    load_from: Path | None = None,
    quiet: bool = True,
) -> tuple[Path, int, float]:
    """Train a tiny config for about `minutes`; returns its last checkpoint, the iterations and the wall time."""
    config = tiny_config(name, data_root)
    max_iters = max(1, int(minutes * 60 / seconds_per_iteration))
    rescale_schedule(config, max_iters)
    if load_from is not None:
        config.load_from = str(load_from)
    if not quiet:
        config.default_hooks.logger.interval = max(1, max_iters // 40)
    seconds = train(config, run_dir, quiet)
    return run_dir / f"iter_{max_iters}.pth", max_iters, seconds
