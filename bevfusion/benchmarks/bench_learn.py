"""Learning benchmark: each tiny config trained for the same wall-clock budget, then scored with the official metric.

It generates its own synthetic set (seed 20261201, which no test uses; `synthetic_train` /
`synthetic_val` scenes, so val is never trained on), then for every config:

1. times a few iterations of `tools/train.py` to learn this machine's seconds per iteration;
2. writes the config with its schedule rescaled to the iterations that fit the budget
   (`rescale_schedule`: every scheduler's begin, end and T_max by one factor);
3. trains it with `tools/train.py` and evaluates the last checkpoint with `tools/test.py`
   (nuscenes-devkit's `DetectionEval` on `synthetic_val`).

Rows: mAP, NDS, per-class AP, TP errors, training minutes, iterations/s and samples/s.
"""

from __future__ import annotations

import argparse
import json
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
SEED = 20261201
CALIBRATION_ITERS = 12  # the first few are warm-up; the log's mean time of the last window is used
SCHEDULE_KEYS = ("begin", "end", "T_max")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", default="work_dirs/benchmark_learn", help="data, runs and logs go here")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per config")
    parser.add_argument("--scenes", type=int, default=20, help="synthetic scenes (train: 4 of 5 beyond the 10th)")
    parser.add_argument("--configs", nargs="+", choices=sorted(TINY_CONFIGS), default=list(TINY_CONFIGS))
    parser.add_argument("--workers", type=int, default=2, help="generation processes and DataLoader workers")


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
    for hook in config.get("custom_hooks", []):
        for key in [key for key in hook if key.endswith("_iter")]:
            hook[key] = round(hook[key] * factor)


def prepare_data(root: Path, scenes: int, workers: int) -> None:
    """The benchmark's own synthetic set with info files and GT database (kept across runs)."""
    from bevfusion.datasets.synthetic import SyntheticConfig, generate

    stamp = root / ".complete"
    if stamp.exists() and stamp.read_text() == f"{scenes} {SEED}":
        return
    generate(SyntheticConfig(out=root, scenes=scenes, samples_per_scene=20, seed=SEED, workers=workers))
    create = [sys.executable, str(REPO / "tools" / "create_data.py"), "nuscenes", "--root-path", str(root)]
    subprocess.run([*create, "--version", "v1.0-mini", "--overwrite"], check=True)
    stamp.write_text(f"{scenes} {SEED}")


def configured(name: str, data_root: Path, workers: int) -> Config:
    """The tiny config pointed at the benchmark's data, with its own loader settings."""
    config = Config.fromfile(str(TINY_CONFIGS[name]))
    root = os.path.join(str(data_root), "")
    train = config.train_dataloader
    train.num_workers = workers
    train.dataset.dataset.data_root = root
    for step in train.dataset.dataset.pipeline:
        if "data_root" in step:
            step["data_root"] = root
    config.test_dataloader.dataset.data_root = root
    config.test_dataloader.num_workers = workers
    config.test_evaluator.data_root = root
    config.val_dataloader = config.val_cfg = config.val_evaluator = None  # scored once, by tools/test.py
    return config


def _run(command: list[str], log: Path) -> float:
    """Run a tool with its output in `log`; returns its wall time. Raises with the log's tail on failure."""
    start = time.perf_counter()
    with open(log, "w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    if result.returncode:
        tail = log.read_text().splitlines()[-20:]
        raise RuntimeError(f"{' '.join(command)} failed (rc {result.returncode}); {log}:\n" + "\n".join(tail))
    return time.perf_counter() - start


def _train(config: Config, work_dir: Path) -> float:
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "config.py"
    config.dump(str(path))
    return _run([sys.executable, "tools/train.py", str(path), "--work-dir", str(work_dir)], work_dir / "train.log")


def seconds_per_iter(log: Path) -> float:
    """Mean iteration time of the last logged window (mmengine's `time: ...` field)."""
    times = [float(value) for value in re.findall(r"\btime: ([0-9.]+)", log.read_text())]
    if not times:
        raise RuntimeError(f"{log}: no iteration times logged")
    return times[-1]


def _metrics(work_dir: Path, config: Path, checkpoint: Path) -> dict:
    command = [sys.executable, "tools/test.py", str(config), str(checkpoint), "--work-dir", str(work_dir / "test")]
    _run(command, work_dir / "test.log")
    summary = next((work_dir / "test").rglob("metrics_summary.json"))
    return json.loads(summary.read_text())


def run(args: argparse.Namespace) -> list[dict]:
    work = Path(args.work_dir).resolve()
    data_root = work / "data"
    prepare_data(data_root, args.scenes, args.workers)
    rows = []
    for name in args.configs:
        config = configured(name, data_root, args.workers)
        batch = config.train_dataloader.batch_size
        calibration = work / f"{name}_calibration"
        rescale_schedule(config, CALIBRATION_ITERS)
        config.log_processor.window_size = CALIBRATION_ITERS // 2
        config.default_hooks.logger.interval = CALIBRATION_ITERS // 2
        _train(config, calibration)
        iteration_seconds = seconds_per_iter(calibration / "train.log")
        max_iters = int(args.minutes * 60 / iteration_seconds)

        config = configured(name, data_root, args.workers)
        rescale_schedule(config, max_iters)
        run_dir = work / name
        train_seconds = _train(config, run_dir)
        summary = _metrics(run_dir, run_dir / "config.py", run_dir / f"iter_{max_iters}.pth")
        rows.append(
            {
                "op": "learn",
                "variant": name,
                "seconds": train_seconds,
                "minutes": train_seconds / 60,
                "iterations": max_iters,
                "iterations_per_s": max_iters / train_seconds,
                "samples_per_s": max_iters * batch / train_seconds,
                "calibrated_seconds_per_iter": iteration_seconds,
                "mAP": summary["mean_ap"],
                "NDS": summary["nd_score"],
                **{f"AP_{cls}": value for cls, value in summary["mean_dist_aps"].items()},
                **{f"{err}": value for err, value in summary["tp_errors"].items()},
            }
        )
        print_learn_table(rows)
    return rows


def print_learn_table(rows: list[dict]) -> None:
    classes = [key for key in rows[0] if key.startswith("AP_")]
    header = ["config", "mAP", "NDS", *(c[3:] for c in classes), "minutes", "it/s", "samples/s"]
    print("\n== learn\n  " + " | ".join(header))
    for row in rows:
        values = [row["variant"], f"{row['mAP']:.3f}", f"{row['NDS']:.3f}", *(f"{row[c]:.2f}" for c in classes)]
        values += [f"{row['minutes']:.1f}", f"{row['iterations_per_s']:.2f}", f"{row['samples_per_s']:.2f}"]
        print("  " + " | ".join(values))
