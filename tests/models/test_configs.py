"""Every config loads and builds through the registries; the paper's fusion config predicts at full size on CPU."""

import pytest
import torch
from model_helpers import CONFIGS, batch_of, build_model, load_config, packed_samples

from bevfusion.models.layers import count_parameters
from bevfusion.registry import DATASETS, METRICS, MODELS, TRANSFORMS

ALL_CONFIGS = sorted(CONFIGS.glob("*.py"))
FULL_FUSION = CONFIGS / "bevfusion_lidar-cam_nuscenes.py"


def test_there_are_paper_and_tiny_configs_for_every_modality():
    names = {path.stem for path in ALL_CONFIGS}
    for modality in ("lidar", "cam", "lidar-cam"):
        assert {f"bevfusion_{modality}_nuscenes", f"bevfusion_{modality}_synthetic_tiny"} <= names


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda path: path.stem)
def test_config_builds_its_model_metric_and_pipelines(path):
    config = load_config(path)
    assert config.default_scope == "bevfusion"
    model = MODELS.build(config.model)
    assert count_parameters(model) > 0
    assert METRICS.get(config.val_evaluator.type) is not None  # building it needs the dataset on disk
    train = config.train_dataloader.dataset
    for dataset in (train.dataset, config.val_dataloader.dataset, config.test_dataloader.dataset):
        assert DATASETS.get(dataset.type) is not None
        for step in dataset.pipeline:
            assert TRANSFORMS.get(step["type"]) is not None, step["type"]
    uses_images = any(step["type"] == "LoadMultiViewImageFromFiles" for step in train.dataset.pipeline)
    assert uses_images == ("camera" in config.model.encoders)
    samples_objects = any(step["type"] == "ObjectSample" for step in train.dataset.pipeline)
    assert samples_objects == ("camera" not in config.model.encoders), "GT sampling is for LiDAR-only training"


# Learnable parameters of the paper's camera+LiDAR model counted from the published layer lists (MIT HAN Lab
# bevfusion configs/nuscenes/det/transfusion/secfpn/camera+lidar/swint_v0p075 and the modules they name):
# Swin-T 27.52 M (28.29 M less its 0.77 M classifier), GeneralizedLSSFPN 1.59 M, DepthLSS 1.61 M with its
# downsample, sparse encoder 2.69 M, ConvFuser 0.77 M, SECOND 4.28 M, SECONDFPN 0.30 M, TransFusion head 1.03 M.
PUBLISHED_PARAMETERS = 39.8e6


@pytest.mark.slow
def test_full_size_fusion_config_predicts_on_one_sample_with_180_cell_bevs(synthetic_nuscenes, synthetic_infos):
    config = load_config(FULL_FUSION)
    model = build_model(FULL_FUSION).eval()
    assert count_parameters(model) == pytest.approx(PUBLISHED_PARAMETERS, rel=0.02)
    samples = packed_samples(config, synthetic_infos["val"], str(synthetic_nuscenes), indices=(0,))
    data = model.data_preprocessor(batch_of(samples), False)
    assert data["inputs"]["imgs"].shape == (1, 6, 3, 256, 704)
    with torch.no_grad():
        camera_bev = model.camera_bev(data["inputs"])
        lidar_bev = model.lidar_bev(data["inputs"])
        predictions = model(**data, mode="predict")[0].pred_instances_3d
    assert camera_bev.shape == (1, 80, 180, 180) and lidar_bev.shape == (1, 256, 180, 180)
    assert predictions.bboxes_3d.tensor.shape == (200, 9)
