"""Bad input to the real tools: each stops with one `error:` line on stderr that names the problem."""

import pytest
import torch
from mmengine.config import Config
from tool_helpers import FUSION_TINY, LIDAR_TINY, TEST, TRAIN, assert_one_error_line, run_tool, tiny_config

from bevfusion.registry import MODELS, register_all_modules

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lidar_checkpoint(tmp_path_factory) -> str:
    """A checkpoint of the tiny LiDAR-only model (freshly initialised)."""
    register_all_modules()
    path = tmp_path_factory.mktemp("checkpoints") / "lidar_only.pth"
    torch.save({"state_dict": MODELS.build(Config.fromfile(str(LIDAR_TINY)).model).state_dict()}, path)
    return str(path)


def test_a_typo_in_cfg_options_names_the_key_and_suggests_the_closest(tmp_path):
    typo = "train_dataloader.batchsize=1"
    result = run_tool(TRAIN, str(LIDAR_TINY), "--work-dir", str(tmp_path), "--cfg-options", typo)
    assert_one_error_line(result, "train_dataloader.batchsize", "did you mean 'train_dataloader.batch_size'")


def test_a_missing_data_root_is_named(tmp_path):
    root = f"{tmp_path}/nowhere/"
    override = f"train_dataloader.dataset.dataset.data_root={root}"
    result = run_tool(TRAIN, str(LIDAR_TINY), "--work-dir", str(tmp_path), "--cfg-options", override)
    assert_one_error_line(result, f"data root not found: {root}", "train_dataloader.dataset.dataset.data_root")


def test_a_missing_info_file_is_named(tiny_world, tmp_path):
    config = tiny_config(LIDAR_TINY, tiny_world, tmp_path / "lidar.py")
    override = "val_dataloader.dataset.ann_file=nuscenes_infos_missing.pkl"
    result = run_tool(TRAIN, str(config), "--work-dir", str(tmp_path), "--cfg-options", override)
    assert_one_error_line(result, "info file not found: ", "nuscenes_infos_missing.pkl", "create_data.py")


def test_a_missing_config_file_is_named(tmp_path):
    result = run_tool(TRAIN, "configs/bevfusion/nope.py")
    assert_one_error_line(result, "config file not found: configs/bevfusion/nope.py")


def test_resuming_from_a_missing_checkpoint_is_named(tiny_world, tmp_path):
    config = tiny_config(LIDAR_TINY, tiny_world, tmp_path / "lidar.py")
    result = run_tool(TRAIN, str(config), "--work-dir", str(tmp_path), "--resume", str(tmp_path / "iter_9.pth"))
    assert_one_error_line(result, f"checkpoint not found: {tmp_path / 'iter_9.pth'} (--resume)")


def test_a_checkpoint_of_another_model_lists_what_does_not_fit(tiny_world, lidar_checkpoint, tmp_path):
    config = tiny_config(FUSION_TINY, tiny_world, tmp_path / "fusion.py")
    assert_one_error_line(
        run_tool(TEST, str(config), lidar_checkpoint, "--work-dir", str(tmp_path)),
        f"{lidar_checkpoint} does not fit BEVFusion",
        "keys missing from the checkpoint: encoders.camera.",
    )


def test_a_truncated_checkpoint_is_named(tiny_world, lidar_checkpoint, tmp_path):
    truncated = tmp_path / "truncated.pth"
    data = open(lidar_checkpoint, "rb").read()
    truncated.write_bytes(data[: len(data) // 3])
    config = tiny_config(LIDAR_TINY, tiny_world, tmp_path / "lidar.py")
    assert_one_error_line(
        run_tool(TEST, str(config), str(truncated), "--work-dir", str(tmp_path)),
        f"{truncated}: cannot be loaded: it is not a complete PyTorch checkpoint",
    )
