"""Configs with default_scope='bevfusion' resolve through our child registries."""

import torch
from mmengine.registry import MODELS as MMENGINE_MODELS

from bevfusion.registry import MODELS, register_all_modules


def test_child_registry_builds_in_bevfusion_scope():
    register_all_modules()

    @MODELS.register_module(name="_RegistryProbe", force=True)
    class _RegistryProbe(torch.nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.width = width

    assert MODELS.scope == "bevfusion"
    assert MODELS.parent is MMENGINE_MODELS
    built = MMENGINE_MODELS.build({"type": "bevfusion._RegistryProbe", "width": 3})
    assert isinstance(built, _RegistryProbe) and built.width == 3
    assert MODELS.build({"type": "_RegistryProbe", "width": 4}).width == 4
