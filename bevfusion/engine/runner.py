"""`BEVFusionRunner`: mmengine's `Runner`, made to run without a GPU and to load checkpoints strictly.

- Multi-process training without a GPU initialises torch.distributed with gloo (mmengine's `pytorch`
  launcher calls `torch.cuda.set_device`, which fails there) and wraps the model in DDP without
  device ids (mmengine passes `device_ids=[LOCAL_RANK]`, which DDP refuses for CPU modules).
  torch's SyncBatchNorm needs a GPU: on CPU, `sync_bn` is ignored with a warning and every process
  normalises with its own batch statistics.
- Checkpoints load with `weights_only=True` (`checkpoint_io`), and their keys must fit the model: a
  checkpoint of another model stops with one error listing what does not fit. Only when `load_from`
  initialises a training run may keys under the prefixes in the config's `load_from_missing_ok` be
  missing (a camera+LiDAR model started from a LiDAR-only checkpoint); resume and test need them all.
- `default_hooks.<name>=None` leaves out any default hook (mmengine accepts `None` only for its own six).
- An epoch-based run resumes only from a checkpoint at an epoch boundary: mmengine would replay the
  whole interrupted epoch on top of the iterations already done.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta

import torch
import torch.distributed as dist
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import EpochBasedTrainLoop, Runner
from torch import nn

from bevfusion.models.checkpoint import check_state_dict

from .checkpoint_io import load_checkpoint_file, restore_message_hub

MODULE_PREFIX = [(r"^module\.", "")]  # DDP's prefix, stripped as mmengine does
# mmengine's own default hooks: `None` removes them; mmengine refuses `None` for any other default hook.
MMENGINE_DEFAULT_HOOKS = ("runtime_info", "timer", "sampler_seed", "logger", "param_scheduler", "checkpoint")


@RUNNERS.register_module()
class BEVFusionRunner(Runner):
    """mmengine's `Runner` (same arguments; build it with `RUNNERS.build(cfg)`); see the module docstring."""

    _initialising_training = False

    # ------------------------------------------------------------------ environment
    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not torch.cuda.is_available() and not dist.is_initialized():
            timeout = (env_cfg.get("dist_cfg") or {}).get("timeout")
            options = {} if timeout is None else {"timeout": timedelta(seconds=timeout)}
            dist.init_process_group(backend="gloo", **options)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: dict | None, model: nn.Module) -> nn.Module:
        if not self.distributed or torch.cuda.is_available() or is_model_wrapper(model):
            return super().wrap_model(model_wrapper_cfg, model)
        if self.cfg.get("sync_bn"):
            self.logger.warning(
                f"sync_bn={self.cfg.sync_bn!r} ignored: torch's SyncBatchNorm needs a GPU, so on CPU every process "
                "normalises with the batch statistics of its own samples"
            )
        wrapper = dict(
            type="MMDistributedDataParallel",
            broadcast_buffers=False,
            find_unused_parameters=self.cfg.get("find_unused_parameters", False),
        )
        wrapper.update(model_wrapper_cfg or {})
        wrapper["device_ids"] = None  # a CPU module
        return MODEL_WRAPPERS.build(wrapper, default_args=dict(module=revert_sync_batchnorm(model.cpu())))

    def register_default_hooks(self, hooks: dict | None = None) -> None:
        """mmengine's, except that any default hook set to `None` is left out (mmengine allows it for its own)."""
        hooks = hooks or {}
        super().register_default_hooks(
            {name: hook for name, hook in hooks.items() if hook is not None or name in MMENGINE_DEFAULT_HOOKS}
        )

    # ------------------------------------------------------------------ checkpoints
    def train(self) -> nn.Module:
        self._initialising_training = True
        return super().train()

    def load_or_resume(self) -> None:
        try:
            super().load_or_resume()
        finally:
            self._initialising_training = False

    def load_checkpoint(
        self,
        filename: str,
        map_location: str | Callable = "cpu",
        revise_keys: Sequence[tuple[str, str]] = MODULE_PREFIX,
    ) -> dict:
        """Load `filename` into the model after checking that its keys fit; returns the whole checkpoint."""
        checkpoint = load_checkpoint_file(filename, map_location)
        if "message_hub" in checkpoint:
            checkpoint["message_hub"] = restore_message_hub(checkpoint["message_hub"])
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        saved = checkpoint.get("state_dict", checkpoint)
        state = OrderedDict()
        for key, value in saved.items():
            for pattern, replacement in revise_keys:
                key = re.sub(pattern, replacement, key)
            state[key] = value
        state._metadata = getattr(saved, "_metadata", OrderedDict())  # module versions, as torch keeps them
        initialising = self._initialising_training and not self._resume
        missing_ok = self.cfg.get("load_from_missing_ok", ()) if initialising else ()
        check_state_dict(model, state, filename, allow_missing=missing_ok)
        model.load_state_dict(state, strict=not missing_ok)
        self._has_loaded = True
        self.logger.info(f"Loaded checkpoint {filename}")
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        super().resume(filename, *args, **kwargs)
        loop = self.train_loop
        if isinstance(loop, EpochBasedTrainLoop) and loop.iter != loop.epoch * len(loop.dataloader):
            raise ValueError(
                f"{filename}: saved at iteration {loop.iter}, inside epoch {loop.epoch + 1} of "
                f"{len(loop.dataloader)} iterations; an epoch-based run resumes only from a checkpoint saved at the "
                "end of an epoch (checkpoint by_epoch=True), or train with IterBasedTrainLoop"
            )
