"""Training and evaluation glue over mmengine: runner, hooks, checkpoint I/O, CPU mixed precision, CLI checks."""

from .checkpoint_hook import AtomicCheckpointHook
from .checkpoint_io import AtomicLocalBackend, load_checkpoint_file, write_atomic
from .hooks import AverageOverRanksHook, DisableObjectSampleHook, IterationSeedHook
from .optim_wrapper import CPUAutocastOptimWrapper
from .runner import BEVFusionRunner
from .visualization_hook import DetectionVisualizationHook

__all__ = [
    "AtomicCheckpointHook",
    "AtomicLocalBackend",
    "AverageOverRanksHook",
    "BEVFusionRunner",
    "CPUAutocastOptimWrapper",
    "DetectionVisualizationHook",
    "DisableObjectSampleHook",
    "IterationSeedHook",
    "load_checkpoint_file",
    "write_atomic",
]
