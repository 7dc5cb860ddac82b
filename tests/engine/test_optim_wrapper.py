"""Mixed precision on CPU: the tiny detectors train under bfloat16 autocast (CPUAutocastOptimWrapper)."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import nn

from bevfusion.datasets.converters.nuscenes_infos import create_nuscenes_infos
from bevfusion.engine import CPUAutocastOptimWrapper
from bevfusion.registry import DATASETS, MODELS, register_all_modules

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "bevfusion"
TINY = {"lidar": "bevfusion_lidar_synthetic_tiny.py", "lidar-cam": "bevfusion_lidar-cam_synthetic_tiny.py"}


@pytest.fixture(scope="module")
def val_info(synthetic_nuscenes, tmp_path_factory) -> str:
    return create_nuscenes_infos(str(synthetic_nuscenes), "v1.0-mini", str(tmp_path_factory.mktemp("amp")))["val"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_a_training_step_under_bf16_autocast(name, synthetic_nuscenes, val_info):
    register_all_modules()
    cfg = Config.fromfile(str(CONFIGS / TINY[name]))
    dataset_cfg = cfg.train_dataloader.dataset.dataset
    pipeline = [step for step in dataset_cfg.pipeline if step["type"] != "ObjectSample"]
    dataset = DATASETS.build(
        {**dataset_cfg, "ann_file": val_info, "data_root": str(synthetic_nuscenes), "pipeline": pipeline}
    )
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    dtypes = {}

    def record(module, inputs, output) -> None:
        dtypes.setdefault(type(module), output.dtype)

    for module_type in (nn.Conv2d, nn.BatchNorm1d):
        next(m for m in model.modules() if type(m) is module_type).register_forward_hook(record)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    wrapper = CPUAutocastOptimWrapper(optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3))

    log = model.train_step(pseudo_collate([dataset[0], dataset[1]]), wrapper)

    assert dtypes[nn.Conv2d] == torch.bfloat16  # dense layers run in bfloat16
    assert dtypes[nn.BatchNorm1d] == torch.float32  # the sparse encoder's native ops keep float32
    assert all(torch.isfinite(value) for value in log.values())
    state = model.state_dict()
    assert all(value.dtype == before[key].dtype for key, value in state.items())  # weights stay float32
    assert not torch.equal(state["heads.object.shared_conv.weight"], before["heads.object.shared_conv.weight"])


def test_the_wrapper_refuses_a_dtype_autocast_cannot_use():
    with pytest.raises(ValueError, match="dtype must be bfloat16 or float16"):
        CPUAutocastOptimWrapper(optimizer=torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.1), dtype="float64")
