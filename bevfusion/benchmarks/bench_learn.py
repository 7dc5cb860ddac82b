"""Learning benchmark: each tiny config trained for the same wall-clock budget, then scored with the official metric.

It generates its own synthetic set (seed 20261201, which no test uses; `synthetic_train` /
`synthetic_val` scenes, so val is never trained on), then for every config times a few
iterations of `tools/train.py`, trains for the iterations that fit the budget (the schedule
stretched to that length, `bevfusion.engine.budget`) and evaluates the last checkpoint with
`tools/test.py` (nuscenes-devkit's `DetectionEval` on `synthetic_val`).

Camera+LiDAR is trained as the paper trains it, LiDAR-only first, then the fusion model from
that checkpoint, inside the one budget and one schedule (`bevfusion.engine.budget.train_fusion_within`;
`--fusion-lidar-share` is the LiDAR stage's part of the schedule). Its checkpoint is scored a
second time with the camera blanked (`BEVFusion(blank_sensors=...)`: zeros for the camera's BEV
map), the row `fusion_camera_blanked`, so the table shows what the camera branch adds.
The camera backbone starts from random weights unless `--camera-pretrained` gives a file.

Rows: mAP, NDS, per-class AP, TP errors, training minutes, iterations/s and samples/s.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from mmengine.config import Config

from bevfusion.engine.budget import (
    FUSION_LIDAR_SHARE,
    TINY_CONFIGS,
    Timing,
    calibrate,
    run_tool,
    tiny_config,
    train_fusion_within,
    train_within,
)
from bevfusion.registry import MODELS

SEED = 20261201
# 4 logged windows of 10 iterations, the last 3 timed: 12 iterations (`make demo`'s) read 0.77 s/iteration for a
# LiDAR-only run that then averaged 0.86 s, and another 12-iteration timing of the same config read 0.93 s.
CALIBRATION_WINDOWS = (4, 10)
# Row -> the tiny configs it trains (and so has to time first).
ROW_CONFIGS = {"lidar": ("lidar",), "camera": ("camera",), "fusion": ("lidar", "fusion")}
# Row -> the extra rows that score its checkpoint again with these `--cfg-options` (a sensor-failure ablation).
ROW_ABLATIONS = {"fusion": {"fusion_camera_blanked": ("+model.blank_sensors=camera",)}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", default="work_dirs/benchmark_learn", help="data, runs and logs go here")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per config")
    parser.add_argument("--scenes", type=int, default=20, help="synthetic scenes (train: 4 of 5 beyond the 10th)")
    parser.add_argument("--configs", nargs="+", choices=sorted(TINY_CONFIGS), default=list(TINY_CONFIGS))
    parser.add_argument("--workers", type=int, default=2, help="processes generating the data")
    parser.add_argument(
        "--fusion-lidar-share",
        type=float,
        default=FUSION_LIDAR_SHARE,
        help="the LiDAR-only stage's part of the fusion schedule",
    )
    parser.add_argument(
        "--camera-pretrained",
        metavar="PATH",
        help="a torchvision ResNet-18 state dict for the camera backbone (the paper's camera is pretrained)",
    )


def prepare_data(root: Path, scenes: int, workers: int) -> None:
    """The benchmark's own synthetic set with info files and GT database (kept across runs)."""
    stamp = root / ".complete"
    if stamp.exists() and stamp.read_text() == f"{scenes} {SEED}":
        return
    generator = ["tools/create_synthetic_nuscenes.py", "--out", str(root), "--scenes", str(scenes)]
    run_tool([*generator, "--samples-per-scene", "20", "--seed", str(SEED), "--workers", str(workers)])
    run_tool(["tools/create_data.py", "nuscenes", "--root-path", str(root), "--version", "v1.0-mini", "--overwrite"])
    stamp.write_text(f"{scenes} {SEED}")


def _metrics(work_dir: Path, config: Path, checkpoint: Path, options: tuple[str, ...] = ()) -> dict:
    """The devkit summary of tools/test.py on `checkpoint` (`options`: its `--cfg-options`)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    command = ["tools/test.py", str(config), str(checkpoint), "--work-dir", str(work_dir / "test")]
    run_tool([*command, "--cfg-options", *options] if options else command, work_dir / "test.log")
    return json.loads((work_dir / "test" / "metrics_summary.json").read_text())


def check_camera_pretrained(path: str) -> None:
    """Load `path` into the tiny camera backbone now, so a wrong file fails before the data and the calibrations."""
    MODELS.build(tiny_config("camera", Path("."), camera_pretrained=path).model.encoders.camera.backbone)


def run(args: argparse.Namespace) -> list[dict]:
    if args.camera_pretrained:
        check_camera_pretrained(args.camera_pretrained)
    work = Path(args.work_dir).resolve()
    data_root = work / "data"
    prepare_data(data_root, args.scenes, args.workers)
    timings: dict[str, Timing] = {}
    rows = []
    for name in args.configs:
        for config_name in ROW_CONFIGS[name]:
            if config_name not in timings:
                run_dir = work / "calibration" / config_name
                timings[config_name] = calibrate(config_name, data_root, run_dir, CALIBRATION_WINDOWS)
        if name == "fusion":
            checkpoint, iterations, stage_seconds = train_fusion_within(
                args.minutes,
                args.fusion_lidar_share,
                timings,
                data_root,
                work / name,
                camera_pretrained=args.camera_pretrained,
            )
        else:
            checkpoint, stage_iters, stage_wall = train_within(
                name,
                args.minutes,
                timings[name],
                data_root,
                work / name / f"0_{name}",
                camera_pretrained=args.camera_pretrained,
            )
            iterations, stage_seconds = [stage_iters], [stage_wall]
        seconds = sum(stage_seconds)
        samples = sum(iterations) * Config.fromfile(str(TINY_CONFIGS[name])).train_dataloader.batch_size
        trained = {
            "seconds": seconds,
            "minutes": seconds / 60,
            "stages": list(ROW_CONFIGS[name]),
            "iterations": iterations,
            "stage_seconds": stage_seconds,
            "iterations_per_s": sum(iterations) / seconds,
            "samples_per_s": samples / seconds,
            "calibration": {config: asdict(timings[config]) for config in ROW_CONFIGS[name]},
            "camera_pretrained": args.camera_pretrained if name != "lidar" else None,
        }
        for variant, options in {name: (), **ROW_ABLATIONS.get(name, {})}.items():
            summary = _metrics(work / variant, checkpoint.parent / "config.py", checkpoint, options)
            rows.append({"op": "learn", "variant": variant, **trained, **_scores(summary)})
        print_learn_table(rows)
    return rows


def _scores(summary: dict) -> dict:
    """mAP, NDS, per-class AP and TP errors of a devkit summary."""
    return {
        "mAP": summary["mean_ap"],
        "NDS": summary["nd_score"],
        **{f"AP_{cls}": value for cls, value in summary["mean_dist_aps"].items()},
        **{f"{err}": value for err, value in summary["tp_errors"].items()},
    }


def print_learn_table(rows: list[dict]) -> None:
    classes = [key for key in rows[0] if key.startswith("AP_")]
    header = ["config", "mAP", "NDS", *(c[3:] for c in classes), "minutes", "it/s", "samples/s"]
    print("\n== learn\n  " + " | ".join(header))
    for row in rows:
        values = [row["variant"], f"{row['mAP']:.3f}", f"{row['NDS']:.3f}", *(f"{row[c]:.2f}" for c in classes)]
        values += [f"{row['minutes']:.1f}", f"{row['iterations_per_s']:.2f}", f"{row['samples_per_s']:.2f}"]
        print("  " + " | ".join(values))
