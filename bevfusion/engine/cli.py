"""What tools/train.py and tools/test.py share: common flags, the config they build, one-line errors."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmengine.config import Config, DictAction

from bevfusion.models.checkpoint import CheckpointMismatchError
from bevfusion.registry import register_all_modules

from .config_checks import ConfigError, load_config

# Problems with what the user gave (config, overrides, paths, checkpoints): reported in one line.
USER_ERRORS = (ConfigError, FileNotFoundError, CheckpointMismatchError)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", help="where logs, checkpoints and results go (default: work_dirs/<config name>)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        metavar="KEY=VALUE",
        help="override config entries, e.g. train_dataloader.batch_size=1; every key must exist in the config, "
        "mark a key to add with '+' (+sync_bn=torch)",
    )
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none", help="pytorch: under torchrun")


def build_config(args: argparse.Namespace) -> Config:
    """The config of `args.config` with the overrides, launcher and work dir of the command line."""
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get("work_dir") or os.path.join("work_dirs", Path(args.config).stem)
    return cfg


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a `USER_ERRORS` exception into `error: <message>` on stderr and exit status 1."""
    try:
        yield
    except USER_ERRORS as error:
        raise SystemExit(f"error: {error}") from None
