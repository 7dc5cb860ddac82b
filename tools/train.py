"""Train a detector with mmengine, on a GPU or, without one, on the CPU.

    python tools/train.py configs/bevfusion/bevfusion_lidar_synthetic_tiny.py
    python tools/train.py CONFIG --resume                  # continue from the work dir's latest checkpoint
    python tools/train.py CONFIG --resume work_dirs/x/epoch_3.pth
    torchrun --nproc_per_node 2 tools/train.py CONFIG --launcher pytorch   # DDP (gloo on CPU)

Logs, TensorBoard events, the dumped config and checkpoints go to the work dir (default
`work_dirs/<config name>`); the checkpoint with the best validation NDS is kept as `best_*.pth`.
"""

from __future__ import annotations

import argparse
import os

import torch
from mmengine.registry import RUNNERS

from bevfusion.engine.cli import add_common_arguments, build_config, exit_on_user_error
from bevfusion.engine.config_checks import ConfigError, check_data_paths

AUTO_RESUME = "auto"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the config file")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=AUTO_RESUME,
        metavar="CKPT",
        help="resume from CKPT, or without a value from the latest checkpoint of the work dir",
    )
    parser.add_argument("--amp", action="store_true", help="mixed precision: fp16 autocast on CUDA, bf16 on CPU")
    parser.add_argument(
        "--auto-scale-lr", action="store_true", help="scale the learning rate by total batch / auto_scale_lr's base"
    )
    add_common_arguments(parser)
    return parser.parse_args(argv)


def configure_training(cfg, args: argparse.Namespace) -> None:
    if args.amp:
        if cfg.optim_wrapper.get("type", "OptimWrapper") != "OptimWrapper":
            raise ConfigError(f"--amp: optim_wrapper.type is {cfg.optim_wrapper.type!r}, expected 'OptimWrapper'")
        if torch.cuda.is_available():
            cfg.optim_wrapper.update(type="AmpOptimWrapper", loss_scale="dynamic")
        else:
            cfg.optim_wrapper.type = "CPUAutocastOptimWrapper"
    if args.auto_scale_lr:
        if "base_batch_size" not in (cfg.get("auto_scale_lr") or {}):
            raise ConfigError("--auto-scale-lr: the config has no auto_scale_lr.base_batch_size")
        cfg.auto_scale_lr.enable = True
    if args.resume == AUTO_RESUME:
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with exit_on_user_error():
        cfg = build_config(args)
        configure_training(cfg, args)
        check_data_paths(cfg, ["train_dataloader", "val_dataloader"], ["val_evaluator"])
        if cfg.get("load_from") and not os.path.isfile(cfg.load_from):
            origin = "--resume" if cfg.resume else "load_from"
            raise FileNotFoundError(f"checkpoint not found: {cfg.load_from} ({origin})")
        RUNNERS.build(cfg).train()


if __name__ == "__main__":
    main()
