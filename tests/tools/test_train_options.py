"""tools/train.py's flags as they reach the config: --amp, --auto-scale-lr, --resume, the default work dir."""

import importlib.util

import pytest
import torch
from tool_helpers import LIDAR_TINY, TRAIN

from bevfusion.engine.config_checks import ConfigError

spec = importlib.util.spec_from_file_location("train_tool", TRAIN)
train_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_tool)


def configured(*argv: str):
    args = train_tool.parse_args([str(LIDAR_TINY), *argv])
    cfg = train_tool.build_config(args)
    train_tool.configure_training(cfg, args)
    return cfg


def test_defaults_keep_the_config_and_use_the_config_named_work_dir():
    cfg = configured()
    assert cfg.work_dir == "work_dirs/bevfusion_lidar_synthetic_tiny"
    assert cfg.optim_wrapper.type == "OptimWrapper" and not cfg.auto_scale_lr.enable
    assert cfg.resume is False and cfg.load_from is None and cfg.launcher == "none"


def test_amp_means_fp16_on_cuda_and_bf16_autocast_on_cpu():
    cfg = configured("--amp")
    if torch.cuda.is_available():
        assert cfg.optim_wrapper.type == "AmpOptimWrapper" and cfg.optim_wrapper.loss_scale == "dynamic"
    else:
        assert cfg.optim_wrapper.type == "CPUAutocastOptimWrapper"
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=35, norm_type=2)  # the rest of the wrapper is kept


def test_amp_refuses_a_wrapper_it_cannot_replace():
    with pytest.raises(ConfigError, match="--amp: optim_wrapper.type is 'OptimWrapperDict'"):
        configured("--amp", "--cfg-options", "optim_wrapper.type=OptimWrapperDict")


def test_auto_scale_lr_and_resume_forms():
    cfg = configured("--auto-scale-lr", "--resume", "--work-dir", "elsewhere")
    assert cfg.auto_scale_lr.enable and cfg.resume is True and cfg.load_from is None and cfg.work_dir == "elsewhere"
    cfg = configured("--resume", "work_dirs/x/iter_500.pth")
    assert cfg.resume is True and cfg.load_from == "work_dirs/x/iter_500.pth"
