"""What the tools check before building anything: --cfg-options keys and the data paths a config reads."""

from pathlib import Path

import pytest

from bevfusion.engine.config_checks import ConfigError, check_data_paths, load_config
from bevfusion.registry import register_all_modules

LIDAR_TINY = str(Path(__file__).resolve().parents[2] / "configs" / "bevfusion" / "bevfusion_lidar_synthetic_tiny.py")


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_all_modules()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("train_dataloader.batchsize", "has no key 'batchsize' (did you mean 'train_dataloader.batch_size'?)"),
        ("optim_wraper.optimizer.lr", "the config has no key 'optim_wraper' (did you mean 'optim_wrapper'?)"),
        ("train_dataloader.dataset.dataset.pipeline.40.seed", "dataset.pipeline is a list of "),
        ("optim_wrapper.optimizer.lr.value", "optim_wrapper.optimizer.lr is a float, not a dict or list"),
        ("+optim_wraper.optimizer.lr", "the config has no key 'optim_wraper'"),  # '+' adds only the last key
    ],
)
def test_an_override_of_a_key_the_config_lacks_is_refused_with_the_closest_key(key, message):
    with pytest.raises(ConfigError, match="^--cfg-options ") as error:
        load_config(LIDAR_TINY, {key: 1})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_overrides_of_existing_keys_and_marked_new_keys_apply():
    options = {"train_dataloader.batch_size": 1, "train_dataloader.dataset.dataset.pipeline.0.load_dim": 4}
    cfg = load_config(LIDAR_TINY, {**options, "+sync_bn": "torch"})
    assert cfg.train_dataloader.batch_size == 1 and cfg.sync_bn == "torch"
    assert cfg.train_dataloader.dataset.dataset.pipeline[0].load_dim == 4
    with pytest.raises(ConfigError, match="mark a key to add with '\\+' \\(\\+sync_bn=...\\)"):
        load_config(LIDAR_TINY, {"sync_bn": "torch"})


def test_a_missing_config_file_is_named():
    with pytest.raises(FileNotFoundError, match="config file not found: configs/none.py"):
        load_config("configs/none.py")


@pytest.fixture
def data_root(tmp_path) -> Path:
    """A data root holding the files the tiny LiDAR config reads (empty: only their existence is checked)."""
    for name in ("nuscenes_infos_train.pkl", "nuscenes_infos_val.pkl", "nuscenes_dbinfos_train.pkl"):
        (tmp_path / name).touch()
    return tmp_path


def _sampling_step() -> int:
    pipeline = load_config(LIDAR_TINY).train_dataloader.dataset.dataset.pipeline
    return next(index for index, step in enumerate(pipeline) if step["type"] == "ObjectSample")


def _config(root: Path, **overrides):
    paths = {
        "train_dataloader.dataset.dataset.data_root": f"{root}/",
        f"train_dataloader.dataset.dataset.pipeline.{_sampling_step()}.data_root": f"{root}/",
        "val_dataloader.dataset.data_root": f"{root}/",
        "val_evaluator.data_root": f"{root}/",
    }
    return load_config(LIDAR_TINY, {**paths, **overrides})


def test_data_paths_that_exist_pass(data_root):
    check_data_paths(_config(data_root), ["train_dataloader", "val_dataloader"], ["val_evaluator"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"train_dataloader.dataset.dataset.data_root": "/no/such/root/"},
            "data root not found: /no/such/root/ (train_dataloader.dataset.dataset.data_root)",
        ),
        (
            {"val_dataloader.dataset.ann_file": "missing_val.pkl"},
            "missing_val.pkl (val_dataloader.dataset.ann_file); write it with tools/create_data.py nuscenes",
        ),
        (
            {f"train_dataloader.dataset.dataset.pipeline.{_sampling_step()}.db_info_path": "no_db.pkl"},
            "no_db.pkl (train_dataloader.dataset.dataset.pipeline.",
        ),
        ({"val_evaluator.data_root": "/no/tables/"}, "data root not found: /no/tables/ (val_evaluator.data_root)"),
    ],
    ids=["data-root", "info-file", "gt-database", "evaluator-root"],
)
def test_a_missing_data_path_is_named_with_its_config_key(data_root, overrides, message):
    with pytest.raises(FileNotFoundError) as error:
        check_data_paths(_config(data_root, **overrides), ["train_dataloader", "val_dataloader"], ["val_evaluator"])
    assert message in str(error.value) and "\n" not in str(error.value)
