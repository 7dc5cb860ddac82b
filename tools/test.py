"""Evaluate a checkpoint with the official nuScenes detection metric (nuscenes-devkit `DetectionEval`).

    python tools/test.py configs/bevfusion/bevfusion_lidar_synthetic_tiny.py work_dirs/x/epoch_20.pth

Prints mAP, NDS, the mean TP errors and the per-class table, and writes to the work dir (default
`work_dirs/<config name>`): `results_nusc.json` (the submission, global frame, with velocities and
attributes) and `metrics_summary.json` (the devkit's summary). `--show-dir DIR` also writes a picture
of each sample's detections there (the six cameras and BEV, as tools/demo.py draws them).
"""

from __future__ import annotations

import argparse
import os

from mmengine.registry import RUNNERS

from bevfusion.engine.cli import add_common_arguments, build_config, exit_on_user_error
from bevfusion.engine.config_checks import check_data_paths


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the config file")
    parser.add_argument("checkpoint", help="the checkpoint to evaluate")
    parser.add_argument("--show-dir", help="write a PNG of each sample's detections (cameras and BEV) here")
    parser.add_argument("--score-thr", type=float, default=0.1, help="lowest prediction score drawn by --show-dir")
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with exit_on_user_error():
        cfg = build_config(args)
        if not os.path.isfile(args.checkpoint):
            raise FileNotFoundError(f"checkpoint not found: {args.checkpoint}")
        cfg.load_from, cfg.resume = args.checkpoint, False
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        for evaluator in evaluators:
            evaluator.jsonfile_prefix = cfg.work_dir
        check_data_paths(cfg, ["test_dataloader"], ["test_evaluator"])
        if args.show_dir:
            show = dict(type="DetectionVisualizationHook", out_dir=args.show_dir, score_threshold=args.score_thr)
            cfg.custom_hooks = [*cfg.get("custom_hooks", []), show]
        RUNNERS.build(cfg).test()


if __name__ == "__main__":
    main()
