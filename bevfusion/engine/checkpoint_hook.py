"""`AtomicCheckpointHook`: mmengine's `CheckpointHook` with checkpoints that survive a crash at any moment.

mmengine's hook deletes the oldest checkpoint *before* writing the new one and writes `last_checkpoint`
with a plain `open`, so a process killed at the wrong moment can leave no usable checkpoint, a truncated
one, or a `last_checkpoint` naming a file that does not exist. This hook

- writes every checkpoint through the `atomic_local` backend (temporary file, then rename);
- writes `last_checkpoint` the same way, after the checkpoint it names is complete;
- deletes outdated checkpoints (also the previous best) only after their successor is on disk;
- stores mmengine's logged-scalar history as tensors, so the checkpoint loads with `weights_only=True`.
"""

from __future__ import annotations

import os

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from bevfusion.registry import HOOKS

from .checkpoint_io import ATOMIC_BACKEND, to_weights_only, write_atomic

LAST_CHECKPOINT_FILE = "last_checkpoint"  # the file mmengine's find_latest_checkpoint reads


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """`CheckpointHook` (same arguments) with atomic, crash-ordered writes; see the module docstring."""

    def __init__(self, *args, backend_args: dict | None = None, **kwargs) -> None:
        super().__init__(*args, backend_args=backend_args or {"backend": ATOMIC_BACKEND}, **kwargs)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in checkpoint:
            if key != "state_dict":  # tensors already, with the `_metadata` torch keeps on the dict
                checkpoint[key] = to_weights_only(checkpoint[key], f"checkpoint[{key!r}]")

    def _remove(self, path: str | None) -> None:
        if path and is_main_process():
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(self.keep_ckpt_ids[0]))
            self.keep_ckpt_ids.append(step)  # a full deque drops its oldest id
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if not is_main_process():
            return
        write_atomic(self.last_ckpt.encode(), os.path.join(runner.work_dir, LAST_CHECKPOINT_FILE))
        if outdated != self.last_ckpt:
            self._remove(outdated)

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """mmengine's best-checkpoint logic, with the previous best removed only after the new one is written."""
        previous = getattr(self, "best_ckpt_path", None)
        previous_by_key = dict(getattr(self, "best_ckpt_path_dict", {}) or {})
        self.best_ckpt_path = None
        self.best_ckpt_path_dict = dict.fromkeys(previous_by_key)
        super()._save_best_checkpoint(runner, metrics)
        if self.best_ckpt_path is None:
            self.best_ckpt_path = previous
        elif previous != self.best_ckpt_path:
            self._remove(previous)
        for key, old in previous_by_key.items():
            if self.best_ckpt_path_dict.get(key) is None:
                self.best_ckpt_path_dict[key] = old
            elif old != self.best_ckpt_path_dict[key]:
                self._remove(old)
