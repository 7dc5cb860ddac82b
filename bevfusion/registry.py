"""mmengine child registries for the `bevfusion` scope.

Configs set `default_scope = 'bevfusion'`; `register_all_modules()` imports every module
that registers something, so config `type=` names resolve.
"""

import importlib

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import DefaultScope, Registry

SCOPE = "bevfusion"

MODELS = Registry("model", parent=MMENGINE_MODELS, scope=SCOPE, locations=["bevfusion.models"])
DATASETS = Registry("dataset", parent=MMENGINE_DATASETS, scope=SCOPE, locations=["bevfusion.datasets"])
TRANSFORMS = Registry("transform", parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=["bevfusion.datasets.transforms"])
METRICS = Registry("metric", parent=MMENGINE_METRICS, scope=SCOPE, locations=["bevfusion.evaluation"])
HOOKS = Registry("hook", parent=MMENGINE_HOOKS, scope=SCOPE, locations=["bevfusion.engine"])
VISUALIZERS = Registry("visualizer", parent=MMENGINE_VISUALIZERS, scope=SCOPE, locations=["bevfusion.visualization"])
TASK_UTILS = Registry("task util", parent=MMENGINE_TASK_UTILS, scope=SCOPE, locations=["bevfusion.models.task_utils"])
DATA_SAMPLERS = Registry("data sampler", parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE, locations=["bevfusion.datasets"])

# Packages whose import registers modules. A package that does not exist yet is skipped,
# so this list can name the whole planned layout.
_REGISTERING_PACKAGES = (
    "bevfusion.datasets",
    "bevfusion.datasets.transforms",
    "bevfusion.models",
    "bevfusion.evaluation",
    "bevfusion.visualization",
    "bevfusion.engine",
)


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every registering package and make `bevfusion` the default scope."""
    for name in _REGISTERING_PACKAGES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
    if init_default_scope and DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance("bevfusion", scope_name=SCOPE)
