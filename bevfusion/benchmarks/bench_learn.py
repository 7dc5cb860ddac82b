"""Learning benchmark: each tiny config trained for the same wall-clock budget, then scored with the official metric.

It generates its own synthetic set (seed 20261201, which no test uses; `synthetic_train` /
`synthetic_val` scenes, so val is never trained on), then for every config:

1. times a few iterations of `tools/train.py` to learn this machine's seconds per iteration;
2. writes the config with its schedule rescaled to the iterations that fit the budget
   (`rescale_schedule`: every scheduler's begin, end and T_max by one factor);
3. trains it with `tools/train.py` and evaluates the last checkpoint with `tools/test.py`
   (nuscenes-devkit's `DetectionEval` on `synthetic_val`).

Camera+LiDAR is trained as the paper trains it: LiDAR-only first, then the fusion model from
that checkpoint; the two stages share the one budget (`--fusion-lidar-share`).

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
# Row -> its training stages (config, share of the budget). Camera+LiDAR follows the paper's recipe: a
# LiDAR-only model first, then the fusion model initialised from it (`load_from`), both inside the one budget.
RECIPES = {
    "lidar": lambda lidar_share: [("lidar", 1.0)],
    "camera": lambda lidar_share: [("camera", 1.0)],
    "fusion": lambda lidar_share: [("lidar", lidar_share), ("fusion", 1.0 - lidar_share)],
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", default="work_dirs/benchmark_learn", help="data, runs and logs go here")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per config")
    parser.add_argument("--scenes", type=int, default=20, help="synthetic scenes (train: 4 of 5 beyond the 10th)")
    parser.add_argument("--configs", nargs="+", choices=sorted(TINY_CONFIGS), default=list(TINY_CONFIGS))
    parser.add_argument("--workers", type=int, default=2, help="processes generating the data")
    parser.add_argument("--fusion-lidar-share", type=float, default=0.5, help="budget share of the LiDAR-only stage")


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


def configured(name: str, data_root: Path) -> Config:
    """The tiny config pointed at `data_root` (its loaders otherwise as configured)."""
    config = Config.fromfile(str(TINY_CONFIGS[name]))
    root = os.path.join(str(data_root), "")
    train = config.train_dataloader
    train.dataset.dataset.data_root = root
    for step in train.dataset.dataset.pipeline:
        if "data_root" in step:
            step["data_root"] = root
    config.test_dataloader.dataset.data_root = root
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


def _calibrate(name: str, work: Path, data_root: Path) -> float:
    """Seconds per training iteration of a config on this machine, from a short run of tools/train.py."""
    config = configured(name, data_root)
    rescale_schedule(config, CALIBRATION_ITERS)
    config.log_processor.window_size = config.default_hooks.logger.interval = CALIBRATION_ITERS // 2
    run_dir = work / "calibration" / name
    _train(config, run_dir)
    return seconds_per_iter(run_dir / "train.log")


def _stage(name: str, minutes: float, run_dir: Path, data_root: Path, speed: float, load_from=None):
    """Train one config for `minutes`; returns its checkpoint, iterations and wall seconds."""
    config = configured(name, data_root)
    max_iters = max(1, int(minutes * 60 / speed))
    rescale_schedule(config, max_iters)
    if load_from is not None:
        config.load_from = str(load_from)
    seconds = _train(config, run_dir)
    return run_dir / f"iter_{max_iters}.pth", max_iters, seconds, config.train_dataloader.batch_size


def run(args: argparse.Namespace) -> list[dict]:
    work = Path(args.work_dir).resolve()
    data_root = work / "data"
    prepare_data(data_root, args.scenes, args.workers)
    speeds: dict[str, float] = {}
    rows = []
    for name in args.configs:
        stages = RECIPES[name](args.fusion_lidar_share)
        checkpoint, iterations, seconds, samples = None, [], 0.0, 0
        for index, (stage_config, share) in enumerate(stages):
            if stage_config not in speeds:
                speeds[stage_config] = _calibrate(stage_config, work, data_root)
            run_dir = work / name / f"{index}_{stage_config}"
            checkpoint, stage_iters, stage_seconds, batch = _stage(
                stage_config, args.minutes * share, run_dir, data_root, speeds[stage_config], checkpoint
            )
            iterations.append(stage_iters)
            seconds += stage_seconds
            samples += stage_iters * batch
        summary = _metrics(work / name, checkpoint.parent / "config.py", checkpoint)
        rows.append(
            {
                "op": "learn",
                "variant": name,
                "seconds": seconds,
                "minutes": seconds / 60,
                "stages": [f"{config} {share:.0%}" for config, share in stages],
                "iterations": iterations,
                "iterations_per_s": sum(iterations) / seconds,
                "samples_per_s": samples / seconds,
                "calibrated_seconds_per_iter": {config: speeds[config] for config, _ in stages},
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
