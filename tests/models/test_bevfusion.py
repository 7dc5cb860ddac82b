"""The BEVFusion detector on synthetic batches: the three tiny configs train and predict; bad input is refused."""

import pytest
import torch
from model_helpers import TINY, batch_of, build_model, load_config, packed_samples

from bevfusion.models.checkpoint import CheckpointMismatchError, load_state_dict_file
from bevfusion.registry import MODELS
from bevfusion.structures import LiDARBoxes


@pytest.fixture(scope="module")
def batches(synthetic_nuscenes, synthetic_infos):
    """Per tiny config: two val samples through its train pipeline (no GT sampling) and through its test pipeline."""
    result = {}
    for name, path in TINY.items():
        config = load_config(path)
        args = (config, synthetic_infos["val"], str(synthetic_nuscenes))
        result[name] = {"train": packed_samples(*args, train=True), "test": packed_samples(*args)}
    return result


def _losses(model, samples):
    data = model.data_preprocessor(batch_of(samples), True)
    return model(**data, mode="loss")


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_config_trains_with_finite_losses_and_a_gradient_for_every_parameter(batches, name):
    torch.manual_seed(0)
    model = build_model(TINY[name]).train()
    losses = _losses(model, batches[name]["train"])
    assert {"loss_heatmap", "layer_-1_loss_cls", "layer_-1_loss_bbox"} <= set(losses)
    total = sum(value for key, value in losses.items() if "loss" in key)
    assert all(torch.isfinite(value) for value in losses.values()) and total > 0
    total.backward()
    frozen = ("encoders.camera.backbone.conv1.", "encoders.camera.backbone.bn1.", "encoders.camera.backbone.layer1.")
    for parameter_name, parameter in model.named_parameters():
        if parameter_name.startswith(frozen):  # the tiny configs' frozen_stages=1
            assert not parameter.requires_grad and parameter.grad is None, f"{name}: {parameter_name} is trained"
            continue
        assert parameter.grad is not None, f"{name}: {parameter_name} gets no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{name}: {parameter_name} has a non-finite gradient"


def test_camera_supervision_options_add_their_losses_and_train_the_camera_branch(batches):
    config = load_config(TINY["fusion"])
    camera = config.model["encoders"]["camera"]
    camera["vtransform"]["depth_loss_weight"] = 1.0
    camera["semantic_head"] = dict(
        type="PerspectiveSemanticHead",
        in_channels=camera["vtransform"]["in_channels"],
        num_classes=len(config.class_names),
        image_size=camera["vtransform"]["image_size"],
        feature_size=camera["vtransform"]["feature_size"],
    )
    torch.manual_seed(0)
    model = MODELS.build(config.model).train()
    losses = _losses(model, batches["fusion"]["train"])
    assert {"loss_depth", "loss_image_semantic"} <= set(losses)
    assert losses["loss_depth"] > 0 and losses["loss_image_semantic"] > 0
    (losses["loss_depth"] + losses["loss_image_semantic"]).backward()
    assert model.encoders["camera"]["semantic_head"].classifier.weight.grad.abs().sum() > 0
    assert model.encoders["camera"]["backbone"].layer2[0].conv1.weight.grad.abs().sum() > 0  # the first trained stage
    assert all(parameter.grad is None for parameter in model.encoders["lidar"].parameters())
    model.eval()
    data = model.data_preprocessor(batch_of(batches["fusion"]["test"]), False)
    assert len(model(**data, mode="predict")) == 2, "prediction needs no GT"


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_config_predicts_boxes_in_the_lidar_frame_and_keeps_the_metainfo(batches, name):
    model = build_model(TINY[name]).eval()
    data = model.data_preprocessor(batch_of(batches[name]["test"]), False)
    with torch.no_grad():
        samples = model(**data, mode="predict")
        outputs = model(**data, mode="tensor")
    assert len(samples) == 2 and isinstance(outputs, list) and outputs[-1]["center"].shape[0] == 2
    for sample in samples:
        predictions = sample.pred_instances_3d
        assert isinstance(predictions.bboxes_3d, LiDARBoxes) and predictions.bboxes_3d.tensor.shape[1] == 9
        assert len(predictions.scores_3d) == len(predictions.labels_3d) == len(predictions.bboxes_3d) > 0
        assert ((predictions.scores_3d >= 0) & (predictions.scores_3d <= 1)).all()
        assert {"token", "lidar2ego", "ego2global"} <= set(sample.metainfo)


def test_fusion_batch_without_images_names_the_missing_modality(batches):
    model = build_model(TINY["fusion"]).eval()
    data = model.data_preprocessor(batch_of(batches["fusion"]["test"]), False)
    del data["inputs"]["imgs"]
    with pytest.raises(ValueError, match="camera encoder.*no images"):
        model(**data, mode="predict")


def test_lidar_only_config_needs_no_images(batches):
    model = build_model(TINY["lidar"]).eval()
    data = model.data_preprocessor(batch_of(batches["fusion"]["test"]), False)
    data["inputs"].pop("imgs")
    with torch.no_grad():
        assert len(model(**data, mode="predict")) == 2


def test_camera_count_other_than_the_configs_is_refused(batches):
    model = build_model(TINY["fusion"]).eval()
    data = model.data_preprocessor(batch_of(batches["fusion"]["test"]), False)
    data["inputs"]["imgs"] = data["inputs"]["imgs"][:, :5]
    with pytest.raises(ValueError, match=r"\(B, 6, 3, H, W\).*num_cameras"):
        model(**data, mode="predict")


@pytest.mark.parametrize("name", ["lidar", "fusion"])
def test_an_empty_point_cloud_gives_a_valid_prediction(batches, name):
    model = build_model(TINY[name]).eval()
    samples = batches[name]["test"]
    empty = {**samples[0], "inputs": {**samples[0]["inputs"], "points": torch.zeros(0, 5)}}
    data = model.data_preprocessor(batch_of([empty, samples[1]]), False)
    assert (data["inputs"]["voxels"]["coors"][:, 0] == 0).sum() == 0
    with torch.no_grad():
        predictions = model(**data, mode="predict")[0].pred_instances_3d
    assert predictions.bboxes_3d.tensor.shape[1] == 9 and torch.isfinite(predictions.bboxes_3d.tensor).all()


def test_fusion_initialised_from_a_lidar_only_model_predicts_what_that_model_predicts(batches, tmp_path):
    """The fusion tiny config starts from a LiDAR-only checkpoint (`load_from`) without losing what it learnt."""
    torch.manual_seed(0)
    lidar = build_model(TINY["lidar"]).train()
    _losses(lidar, batches["lidar"]["train"])  # one training forward, so BN statistics are not the initial ones
    torch.save(lidar.state_dict(), tmp_path / "lidar.pth")
    fusion = build_model(TINY["fusion"])
    load_state_dict_file(fusion, str(tmp_path / "lidar.pth"), load_config(TINY["fusion"]).load_from_missing_ok)
    data = fusion.data_preprocessor(batch_of(batches["fusion"]["test"]), False)
    with torch.no_grad():
        expected = lidar.eval()(**data, mode="tensor")[-1]
        fused = fusion.eval()(**data, mode="tensor")[-1]
    assert data["inputs"]["imgs"].abs().sum() > 0
    for key in ("dense_heatmap", "heatmap", "center", "height", "dim", "rot", "vel"):
        torch.testing.assert_close(fused[key], expected[key], msg=key)


def test_a_checkpoint_of_another_model_is_refused_with_its_mismatched_keys(tmp_path):
    lidar, camera = build_model(TINY["lidar"]), build_model(TINY["camera"])
    path = tmp_path / "camera.pth"
    torch.save({"state_dict": camera.state_dict(), "meta": {"epoch": 1}}, path)
    with pytest.raises(CheckpointMismatchError, match=r"camera.pth does not fit BEVFusion.*encoders\.lidar"):
        load_state_dict_file(lidar, str(path))
    torch.save({"state_dict": lidar.state_dict()}, path)
    load_state_dict_file(lidar, str(path))
    fusion = build_model(TINY["fusion"])
    with pytest.raises(CheckpointMismatchError, match="missing from the checkpoint.*encoders.camera"):
        load_state_dict_file(fusion, str(path))
    load_state_dict_file(fusion, str(path), allow_missing=("encoders.camera.", "fuser."))  # the paper's init
    torch.testing.assert_close(
        fusion.state_dict()["heads.object.shared_conv.weight"], lidar.heads.object.shared_conv.weight
    )
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointMismatchError, match="camera.pth: cannot be read"):
        load_state_dict_file(lidar, str(path))


def test_single_modality_and_unknown_encoders_are_configuration_errors():
    config = load_config(TINY["fusion"]).model
    with pytest.raises(ValueError, match="need a fuser"):
        MODELS.build({**config, "fuser": None})
    with pytest.raises(ValueError, match="encoders must be some of"):
        MODELS.build({**config, "encoders": {"radar": {}}})


def test_a_blank_camera_leaves_the_prediction_independent_of_the_images(batches):
    """`blank_sensors="camera"` (the learning benchmark's camera ablation) needs no images; unblanked, they count."""
    torch.manual_seed(0)
    config = load_config(TINY["fusion"]).model
    fusion = MODELS.build(config).eval()
    torch.nn.init.normal_(fusion.fuser.to_residual.weight, std=0.1)  # a fuser that uses the camera map
    blanked = MODELS.build({**config, "blank_sensors": "camera"}).eval()
    blanked.load_state_dict(fusion.state_dict())
    data = fusion.data_preprocessor(batch_of(batches["fusion"]["test"]), False)
    other = {**data, "inputs": {**data["inputs"], "imgs": data["inputs"]["imgs"].flip(-1)}}
    without = {**data, "inputs": {key: value for key, value in data["inputs"].items() if key != "imgs"}}
    with torch.no_grad():
        heatmaps = [
            model(**batch, mode="tensor")[-1]["heatmap"] for model in (fusion, blanked) for batch in (data, other)
        ]
        assert not torch.allclose(heatmaps[0], heatmaps[1])
        torch.testing.assert_close(heatmaps[2], heatmaps[3])
        torch.testing.assert_close(blanked(**without, mode="tensor")[-1]["heatmap"], heatmaps[2])


def test_a_blank_lidar_scores_the_camera_branch_without_voxels(batches):
    blanked = MODELS.build({**load_config(TINY["fusion"]).model, "blank_sensors": ["lidar"]}).eval()
    data = blanked.data_preprocessor(batch_of(batches["fusion"]["test"]), False)
    data["inputs"].pop("voxels")
    with torch.no_grad():
        predictions = blanked(**data, mode="predict")[0].pred_instances_3d
    assert len(predictions.bboxes_3d) > 0 and torch.isfinite(predictions.bboxes_3d.tensor).all()


def test_blank_sensors_must_leave_one_of_the_models_encoders():
    config = load_config(TINY["fusion"]).model
    with pytest.raises(ValueError, match=r"blank_sensors \['radar'\] are not among"):
        MODELS.build({**config, "blank_sensors": ["radar"]})
    with pytest.raises(ValueError, match="would blank every encoder"):
        MODELS.build({**config, "blank_sensors": ["camera", "lidar"]})
