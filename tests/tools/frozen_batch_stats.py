"""A test-only hook (imported by a config's `custom_imports`): batch-norm layers keep eval mode in training.

Then no layer mixes the samples of a batch, so a batch split over processes computes exactly what the
whole batch computes in one process (see test_ddp.py).
"""

from mmengine.hooks import Hook
from torch.nn.modules.batchnorm import _BatchNorm

from bevfusion.registry import HOOKS


@HOOKS.register_module()
class FrozenBatchStatsHook(Hook):
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        for module in runner.model.modules():
            if isinstance(module, _BatchNorm):
                module.eval()
