"""`init_model`: a config (and optionally a checkpoint) -> a detector in eval mode with its config attached."""

from __future__ import annotations

import os

import torch
from mmengine.config import Config
from torch import nn

from bevfusion.models.checkpoint import load_state_dict_file
from bevfusion.registry import MODELS, register_all_modules


def init_model(
    config: str | os.PathLike | Config,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    cfg_options: dict | None = None,
) -> nn.Module:
    """Build `config`'s model, load `checkpoint` (weights only; every key must fit), move it to `device`, eval mode.

    `cfg_options` overrides config keys as `--cfg-options` does (`{'model.heads.object.num_proposals': 100}`).
    The config stays on the model as `model.cfg`; `inference_detector` reads the test pipeline there.
    """
    register_all_modules()
    if isinstance(config, Config):
        cfg = config.copy()
    else:
        path = os.fspath(config)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"init_model: config file not found: {path}")
        cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if "model" not in cfg:
        raise ValueError(f"init_model: the config {cfg.filename or ''} has no 'model'")
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_state_dict_file(model, os.fspath(checkpoint))
    model.cfg = cfg
    return model.to(device).eval()
