"""A toy model and dataset for runner-level tests: real mmengine training in a second, no detector needed.

Run as a script (`python toy_training.py crash WORK_DIR HOOK`), it trains two epochs and dies from
SIGXFSZ halfway through writing the second epoch's checkpoint (see test_checkpoint_hook.py).
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import uuid
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from bevfusion.engine import BEVFusionRunner
from bevfusion.registry import register_all_modules

RUNTIME_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "_base_" / "default_runtime.py"
WIDTH = 128  # a 0.4 MB checkpoint: far larger than anything else a run writes while it saves


class ToyDataset(Dataset):
    """`size` fixed random regression pairs."""

    def __init__(self, size: int = 8) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(size, WIDTH, generator=generator)
        self.targets = torch.randn(size, 1, generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return {"inputs": self.inputs[index], "data_samples": self.targets[index]}


class ToyModel(BaseModel):
    """`backbone` -> dropout -> `head`; `extra=True` adds a `neck` (a model that a backbone+head checkpoint misses)."""

    def __init__(self, extra: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = nn.Linear(WIDTH, WIDTH)
        self.neck = nn.Linear(WIDTH, WIDTH) if extra else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(WIDTH, 1)

    def forward(self, inputs, data_samples=None, mode: str = "tensor"):
        outputs = self.head(self.dropout(self.neck(self.backbone(torch.stack(inputs)))))
        if mode == "loss":
            return {"loss": (outputs - torch.stack(data_samples)).pow(2).mean()}
        if mode == "predict":
            return [{"error": float((o - t).abs().sum())} for o, t in zip(outputs, data_samples)]
        return outputs


class ScheduledMetric(BaseMetric):
    """Reports `scores[k]` as `score` at its k-th evaluation, whatever the predictions."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__()
        self.scores, self.calls = list(scores), 0

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: list) -> dict:
        self.calls += 1
        return {"score": self.scores[self.calls - 1]}


def loader(batch_size: int = 2, shuffle: bool = True, **dataset_args) -> dict:
    return dict(
        dataset=ToyDataset(**dataset_args),
        sampler=dict(type="DefaultSampler", shuffle=shuffle),
        batch_size=batch_size,
        num_workers=0,
    )


def toy_runner(work_dir: str, model: nn.Module | None = None, **overrides) -> BEVFusionRunner:
    """A `BEVFusionRunner` training `ToyModel` with SGD for two epochs, with the configs' default hooks.

    `default_hooks` in `overrides` update those of configs/_base_/default_runtime.py (checkpoints
    every epoch, one kept), and a log line is written every iteration.
    """
    register_all_modules()
    hooks = Config.fromfile(str(RUNTIME_CONFIG)).default_hooks.to_dict()
    hooks.update(logger=dict(type="LoggerHook", interval=1), **overrides.pop("default_hooks", {}))
    settings = dict(
        model=model if model is not None else ToyModel(),
        work_dir=work_dir,
        train_dataloader=loader(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        default_hooks=hooks,
        default_scope="bevfusion",
        randomness=dict(seed=0),
        experiment_name=f"toy_{uuid.uuid4().hex}",  # mmengine keys its logger and visualiser by this name
    )
    settings.update(overrides)
    return BEVFusionRunner(**settings)


class FileSizeLimitHook(Hook):
    """From the second epoch on, no file may grow past half the first checkpoint's size: a write beyond it
    kills the process (SIGXFSZ), as a full disk or a power cut would stop it mid-write."""

    def before_train_epoch(self, runner) -> None:
        if runner.epoch == 1:
            limit = os.path.getsize(os.path.join(runner.work_dir, "epoch_1.pth")) // 2
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def crash_while_saving(work_dir: str, hook_type: str) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it: a write past the limit would only fail
    checkpoint = dict(type=hook_type, interval=1, max_keep_ckpts=1)
    runner = toy_runner(work_dir, default_hooks=dict(checkpoint=checkpoint), custom_hooks=[FileSizeLimitHook()])
    runner.train()


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command != "crash":
        raise SystemExit(f"unknown command {command!r}")
    crash_while_saving(*arguments)
