"""Training and evaluation glue over mmengine: runner, hooks, checkpoint I/O, CPU mixed precision, CLI checks."""

from .checkpoint_hook import AtomicCheckpointHook
from .checkpoint_io import AtomicLocalBackend, load_checkpoint_file, write_atomic
from .hooks import AverageOverRanksHook, DisableObjectSampleHook, IterationSeedHook
from .optim_wrapper import CPUAutocastOptimWrapper
from .runner import BEVFusionRunner

__all__ = [
    "AtomicCheckpointHook",
    "AtomicLocalBackend",
    "AverageOverRanksHook",
    "BEVFusionRunner",
    "CPUAutocastOptimWrapper",
    "DisableObjectSampleHook",
    "IterationSeedHook",
    "load_checkpoint_file",
    "write_atomic",
]
