"""CBGS on a training set too small for its per-class resampling (bevfusion/datasets/cbgs.py)."""

import pickle

import pytest

from bevfusion.datasets import CBGSDataset, NuScenesDataset
from bevfusion.datasets.converters.nuscenes_infos import create_nuscenes_infos


@pytest.fixture(scope="module")
def one_sample(synthetic_nuscenes, tmp_path_factory):
    """`write(count)`: an info file of the first synthetic val sample with the valid boxes of `count` classes."""
    out = tmp_path_factory.mktemp("cbgs_tiny")
    with open(create_nuscenes_infos(str(synthetic_nuscenes), "v1.0-mini", str(out))["val"], "rb") as handle:
        infos = pickle.load(handle)

    def write(count: int) -> str:
        info = infos["data_list"][0]
        valid = [item for item in info["instances"] if item["bbox_3d_isvalid"] and item["bbox_label_3d"] >= 0]
        labels = sorted({item["bbox_label_3d"] for item in valid})[:count]
        kept = [item for item in valid if item["bbox_label_3d"] in labels]
        path = out / f"one_sample_{count}.pkl"
        with open(path, "wb") as handle:
            pickle.dump({**infos, "data_list": [{**info, "instances": kept}]}, handle)
        return str(path)

    return write


def test_one_sample_with_eight_classes_gives_one_draw_per_class(synthetic_nuscenes, one_sample):
    dataset = NuScenesDataset(one_sample(8), data_root=str(synthetic_nuscenes), test_mode=False)
    assert len(dataset.get_cat_ids(0)) == 8  # 8 (class, sample) pairs: the formula gives 8 / 10 -> 0 draws each
    cbgs = CBGSDataset(dataset, seed=0)
    assert len(cbgs) == 8
    assert cbgs[7]["token"] == dataset[0]["token"]


def test_a_training_set_without_samples_stops_at_build_time(synthetic_nuscenes, one_sample):
    path = one_sample(0)
    # No box: the sample is filtered out. (mmengine's own serialisation fails on an empty list, so it is off.)
    dataset = NuScenesDataset(path, data_root=str(synthetic_nuscenes), test_mode=False, serialize_data=False)
    with pytest.raises(ValueError, match=f"CBGSDataset: the wrapped dataset \\({path}\\) has no sample"):
        CBGSDataset(dataset)
