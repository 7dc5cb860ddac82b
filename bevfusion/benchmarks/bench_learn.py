"""Learning benchmark: each tiny config trained for the same wall-clock budget, then scored with the official metric.

It generates its own synthetic set (seed 20261201, which no test uses; `synthetic_train` /
`synthetic_val` scenes, so val is never trained on), then for every config times a few
iterations of `tools/train.py`, trains for the iterations that fit the budget (the schedule
stretched to that length, `bevfusion.engine.budget`) and evaluates the last checkpoint with
`tools/test.py` (nuscenes-devkit's `DetectionEval` on `synthetic_val`).

Camera+LiDAR is trained as the paper trains it: LiDAR-only first, then the fusion model from
that checkpoint; the two stages share the one budget (`--fusion-lidar-share`).

Rows: mAP, NDS, per-class AP, TP errors, training minutes, iterations/s and samples/s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmengine.config import Config

from bevfusion.engine.budget import TINY_CONFIGS, calibrate, run_tool, train_within

SEED = 20261201
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


def prepare_data(root: Path, scenes: int, workers: int) -> None:
    """The benchmark's own synthetic set with info files and GT database (kept across runs)."""
    stamp = root / ".complete"
    if stamp.exists() and stamp.read_text() == f"{scenes} {SEED}":
        return
    generator = ["tools/create_synthetic_nuscenes.py", "--out", str(root), "--scenes", str(scenes)]
    run_tool([*generator, "--samples-per-scene", "20", "--seed", str(SEED), "--workers", str(workers)])
    run_tool(["tools/create_data.py", "nuscenes", "--root-path", str(root), "--version", "v1.0-mini", "--overwrite"])
    stamp.write_text(f"{scenes} {SEED}")


def _metrics(work_dir: Path, config: Path, checkpoint: Path) -> dict:
    """The devkit summary of tools/test.py on `checkpoint`."""
    run_tool(
        ["tools/test.py", str(config), str(checkpoint), "--work-dir", str(work_dir / "test")], work_dir / "test.log"
    )
    return json.loads((work_dir / "test" / "metrics_summary.json").read_text())


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
                speeds[stage_config] = calibrate(stage_config, data_root, work / "calibration" / stage_config)
            run_dir = work / name / f"{index}_{stage_config}"
            checkpoint, stage_iters, stage_seconds = train_within(
                stage_config, args.minutes * share, speeds[stage_config], data_root, run_dir, checkpoint
            )
            iterations.append(stage_iters)
            seconds += stage_seconds
            samples += stage_iters * Config.fromfile(str(TINY_CONFIGS[stage_config])).train_dataloader.batch_size
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
