"""Training hooks: GT sampling switch-off, per-iteration seeding, losses logged as the mean over processes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dataset import Compose
from mmengine.dist.utils import get_comm_device
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, set_random_seed

from bevfusion.datasets.transforms.object_sample import ObjectSample
from bevfusion.registry import HOOKS


def _pipelines(dataset) -> Iterator[Compose]:
    """The pipelines of a dataset and of the datasets it wraps (CBGS, repeat, concatenation)."""
    if isinstance(getattr(dataset, "pipeline", None), Compose):
        yield dataset.pipeline
    for inner in [getattr(dataset, "dataset", None), *getattr(dataset, "datasets", [])]:
        if inner is not None:
            yield from _pipelines(inner)


def _restart_persistent_workers(loader: torch.utils.data.DataLoader) -> bool:
    """Stop a DataLoader's persistent workers, so the next epoch forks fresh ones from the changed dataset.

    Persistent workers hold their own copy of the dataset, made when they started; torch offers no
    public way to refresh it, so this shuts the workers down and drops the iterator that owns them.
    """
    iterator = getattr(loader, "_iterator", None)
    if not loader.persistent_workers or iterator is None:
        return False
    iterator._shutdown_workers()
    loader._iterator = None
    return True


@HOOKS.register_module()
class DisableObjectSampleHook(Hook):
    """Switch GT sampling (`ObjectSample`) off for the epochs after `disable_after_epoch`.

    BEVFusion's LiDAR-only schedule pastes database objects for the first 15 of 20 epochs, then trains
    on unaltered scenes (MIT HAN Lab's `gt_paste_stop_epoch`). The transform is removed from the train
    dataset's pipeline at the start of epoch index `disable_after_epoch` (0-based; also when a run is
    resumed past it), and persistent DataLoader workers are restarted so that they drop it too.
    """

    def __init__(self, disable_after_epoch: int) -> None:
        if not isinstance(disable_after_epoch, int) or disable_after_epoch < 0:
            raise ValueError(
                f"DisableObjectSampleHook: disable_after_epoch must be an int >= 0, got {disable_after_epoch!r}"
            )
        self.disable_after_epoch = disable_after_epoch
        self.disabled = False

    def before_train(self, runner) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise ValueError(
                "DisableObjectSampleHook counts epochs, but the training loop is a "
                f"{type(runner.train_loop).__name__}; use it with an epoch-based schedule (train_cfg by_epoch=True)"
            )
        if not self._sampling_transforms(runner):
            runner.logger.warning(
                "DisableObjectSampleHook: the train pipeline has no ObjectSample transform; nothing to switch off"
            )
            self.disabled = True

    def before_train_epoch(self, runner) -> None:
        if self.disabled or runner.epoch < self.disable_after_epoch:
            return
        removed = 0
        for pipeline in _pipelines(runner.train_loop.dataloader.dataset):
            kept = [step for step in pipeline.transforms if not isinstance(step, ObjectSample)]
            removed += len(pipeline.transforms) - len(kept)
            pipeline.transforms = kept
        restarted = _restart_persistent_workers(runner.train_loop.dataloader)
        self.disabled = True
        runner.logger.info(
            f"DisableObjectSampleHook: GT sampling off from epoch {runner.epoch + 1} ({removed} ObjectSample "
            f"transform(s) removed{', persistent workers restarted' if restarted else ''})"
        )

    @staticmethod
    def _sampling_transforms(runner) -> list:
        return [
            step
            for pipeline in _pipelines(runner.train_loop.dataloader.dataset)
            for step in pipeline.transforms
            if isinstance(step, ObjectSample)
        ]


def iteration_seed(seed: int, iteration: int) -> int:
    """A 31-bit seed for `iteration` of a run seeded with `seed`; runs with nearby seeds get unrelated streams."""
    return int(np.random.SeedSequence([seed, iteration]).generate_state(1)[0] >> 1)


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Reseed Python's, numpy's and torch's global generators before every training iteration.

    The seed follows from the run's seed and the iteration alone (as fairseq seeds each update), so
    what an iteration draws from the global generators once its batch is loaded (dropout masks, ...)
    is the same whether the run got there uninterrupted or was resumed from a checkpoint, and whatever
    validation or mmengine's resume-time replay of the data loader consumed in between. With
    `randomness.diff_rank_seed` each process gets its own seed. Data transforms that own a generator,
    and DataLoader workers, keep their own streams.
    """

    priority = "HIGHEST"

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        randomness = runner.cfg.get("randomness") or {}
        set_random_seed(
            iteration_seed(runner.seed, runner.iter), diff_rank_seed=randomness.get("diff_rank_seed", False)
        )


@HOOKS.register_module()
class AverageOverRanksHook(Hook):
    """Log each training iteration's losses as their mean over all processes, not rank 0's share.

    In a multi-process run every process computes its losses on its own part of the batch and mmengine
    logs rank 0's; averaging them (as mmcv 1.x did) makes the logged curve that of the whole batch, so
    runs with different process counts compare. Runs before `RuntimeInfoHook` records the values.
    """

    priority = "HIGHEST"

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: dict | None = None) -> None:
        if not outputs or not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
            return
        keys, device = list(outputs), get_comm_device()
        values = torch.stack([torch.as_tensor(outputs[key], device=device).detach().float().mean() for key in keys])
        dist.all_reduce(values)
        values /= dist.get_world_size()
        for key, value in zip(keys, values):
            outputs[key] = value
