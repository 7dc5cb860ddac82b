"""`init_model` and `inference_detector`: raw inputs and the info entry of one sample give the same model input and
the same boxes; the camera geometry is reused on a fixed rig; bad input is refused naming the field."""

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from bevfusion.apis import RawSample, inference_detector, init_model, prepare_sample
from bevfusion.models.checkpoint import CheckpointMismatchError
from bevfusion.structures import rotation_z_matrix

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "bevfusion"
FUSION = CONFIGS / "bevfusion_lidar-cam_synthetic_tiny.py"
LIDAR = CONFIGS / "bevfusion_lidar_synthetic_tiny.py"


@pytest.fixture(scope="module")
def entry(synthetic_infos) -> dict:
    """A val info entry without earlier sweeps (the first key frame of its scene), as a raw sample has none."""
    with open(synthetic_infos["val"], "rb") as handle:
        data_list = pickle.load(handle)["data_list"]
    return next(item for item in data_list if not item["lidar_sweeps"])


def _files(entry: dict, root: Path) -> tuple[str, dict[str, str]]:
    lidar = str(root / "samples" / "LIDAR_TOP" / entry["lidar_points"]["lidar_path"])
    images = {camera: str(root / "samples" / camera / image["img_path"]) for camera, image in entry["images"].items()}
    return lidar, images


def _raw(entry: dict, root: Path, arrays: bool = False, **changes) -> RawSample:
    """The entry's sensor data as a RawSample: file paths, or decoded arrays (RGB images, the cloud's 5 columns)."""
    lidar, images = _files(entry, root)
    if arrays:
        lidar = np.fromfile(lidar, dtype=np.float32).reshape(-1, 5)
        images = {camera: cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB) for camera, path in images.items()}
    fields = dict(
        points=lidar,
        images=images,
        cam2img={camera: image["cam2img"] for camera, image in entry["images"].items()},
        lidar2cam={camera: image["lidar2cam"] for camera, image in entry["images"].items()},
    )
    return RawSample(**{**fields, **changes})


@pytest.fixture(scope="module")
def fusion_model():
    torch.manual_seed(0)
    return init_model(FUSION)


def _assert_same_input(first: dict, second: dict) -> None:
    for key in ("points", "img"):
        assert torch.equal(first["inputs"][key], second["inputs"][key]), key
    for field in ("cam2img", "lidar2cam", "img_aug", "lidar_aug"):
        assert torch.equal(getattr(first["data_samples"].calib, field), getattr(second["data_samples"].calib, field))


def test_raw_inputs_and_the_info_entry_build_the_same_model_input(fusion_model, entry, synthetic_nuscenes):
    root = Path(synthetic_nuscenes)
    from_info = prepare_sample(fusion_model, entry, data_root=str(root))
    assert from_info["inputs"]["img"].shape == (6, 3, 128, 352) and len(from_info["inputs"]["points"]) > 1000
    _assert_same_input(prepare_sample(fusion_model, _raw(entry, root)), from_info)
    _assert_same_input(prepare_sample(fusion_model, _raw(entry, root, arrays=True)), from_info)
    arrays = _raw(entry, root, arrays=True)
    four_columns = _raw(entry, root, points=arrays.points[:, :4])  # column 4 becomes the time lag anyway
    _assert_same_input(prepare_sample(fusion_model, four_columns), from_info)
    as_tensors = _raw(entry, root, points=torch.from_numpy(arrays.points))
    _assert_same_input(prepare_sample(fusion_model, as_tensors), from_info)


def test_a_flat_folder_loads_through_data_prefix(fusion_model, entry, synthetic_nuscenes, tmp_path):
    root = Path(synthetic_nuscenes)
    lidar, images = _files(entry, root)
    for path in [lidar, *images.values()]:
        (tmp_path / Path(path).name).symlink_to(path)
    prefix = {"pts": "", "sweeps": "", **{camera: "" for camera in images}}
    flat = prepare_sample(fusion_model, entry, data_root=str(tmp_path), data_prefix=prefix)
    _assert_same_input(flat, prepare_sample(fusion_model, entry, data_root=str(root)))


@pytest.fixture(scope="module")
def fusion_runs(fusion_model, entry, synthetic_nuscenes):
    """Info entry, then raw inputs of the same sample, then the raw inputs on a moved camera; the view transform's
    cached geometry after each call."""
    root = Path(synthetic_nuscenes)
    transform = fusion_model.encoders["camera"]["vtransform"]
    runs = {}
    runs["info"] = (inference_detector(fusion_model, entry, data_root=str(root)), transform._cached_geometry)
    runs["raw"] = (inference_detector(fusion_model, _raw(entry, root)), transform._cached_geometry)
    moved = {**_raw(entry, root).lidar2cam}
    moved["CAM_BACK"] = np.asarray(moved["CAM_BACK"]) @ rotation_z_matrix(0.05).numpy()
    runs["moved"] = (inference_detector(fusion_model, _raw(entry, root, lidar2cam=moved)), transform._cached_geometry)
    return runs


@pytest.mark.slow
def test_raw_inputs_and_the_info_entry_give_the_same_boxes(fusion_runs):
    from_info, from_raw = fusion_runs["info"][0], fusion_runs["raw"][0]
    assert len(from_info.boxes) > 0 and from_info.boxes.tensor.shape[1] == 9
    assert torch.equal(from_info.boxes.tensor, from_raw.boxes.tensor)
    assert torch.equal(from_info.scores, from_raw.scores) and torch.equal(from_info.labels, from_raw.labels)
    assert from_info.class_names[0] == "car" and len(from_info.names) == len(from_info.boxes)


@pytest.mark.slow
def test_the_view_transform_geometry_is_reused_while_the_rig_is_unchanged(fusion_runs):
    first, second, moved = (fusion_runs[name][1] for name in ("info", "raw", "moved"))
    assert first is not None and second is first
    assert moved is not first


@pytest.mark.slow
def test_the_lidar_model_needs_no_cameras_and_matches_its_info_entry(entry, synthetic_nuscenes):
    torch.manual_seed(0)
    model = init_model(LIDAR)
    root = Path(synthetic_nuscenes)
    lidar, _ = _files(entry, root)
    from_raw = inference_detector(model, RawSample(points=lidar))
    from_info = inference_detector(model, entry, data_root=str(root))
    assert "img" not in from_raw.inputs and len(from_raw.boxes) > 0
    assert torch.equal(from_raw.boxes.tensor, from_info.boxes.tensor)


def test_boxes_come_back_in_the_lidar_frame_when_the_test_pipeline_turns_it(entry, synthetic_nuscenes):
    config = Config.fromfile(str(LIDAR))
    config.test_dataloader.dataset.pipeline.insert(
        -1, dict(type="GlobalRotScaleTrans", rot_range=[0.5, 0.5], scale_ratio_range=[1.0, 1.0])
    )
    torch.manual_seed(0)
    result = inference_detector(init_model(config), entry, data_root=str(synthetic_nuscenes))
    in_model_frame = result.data_sample.pred_instances_3d.bboxes_3d
    assert len(result.boxes) > 0
    torch.testing.assert_close(result.boxes.transform(rotation_z_matrix(0.5)).tensor, in_model_frame.tensor)


def test_init_model_loads_a_checkpoint_strictly_and_applies_cfg_options(tmp_path):
    torch.manual_seed(1)
    source = init_model(LIDAR)
    path = tmp_path / "lidar.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    model = init_model(LIDAR, checkpoint=path, cfg_options={"model.heads.object.num_proposals": 50})
    assert not model.training and model.cfg.model.heads.object.num_proposals == 50
    assert model.heads["object"].num_proposals == 50
    for name, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    with pytest.raises(CheckpointMismatchError, match="missing from the checkpoint.*encoders.camera"):
        init_model(FUSION, checkpoint=path)
    with pytest.raises(FileNotFoundError, match="config file not found"):
        init_model(tmp_path / "missing.py")


def _refused(model, sample, error, match, **kwargs) -> None:
    with pytest.raises(error, match=match):
        prepare_sample(model, sample, **kwargs)


def test_raw_camera_input_errors_name_the_camera_and_the_problem(fusion_model, entry, synthetic_nuscenes):
    root = Path(synthetic_nuscenes)
    raw = _raw(entry, root, arrays=True)
    without_back = {camera: image for camera, image in raw.images.items() if camera != "CAM_BACK"}
    _refused(
        fusion_model, _raw(entry, root, images=without_back), ValueError, r"images: missing cameras \['CAM_BACK'\]"
    )
    extra = {**raw.cam2img, "CAM_TOP": np.eye(3)}
    _refused(fusion_model, _raw(entry, root, cam2img=extra), ValueError, r"cam2img: unknown cameras \['CAM_TOP'\]")
    bad_intrinsics = {**raw.cam2img, "CAM_FRONT": np.eye(3, 4)}
    _refused(
        fusion_model,
        _raw(entry, root, cam2img=bad_intrinsics),
        ValueError,
        r"cam2img\[CAM_FRONT\]: expected a 3x3 or 4x4 matrix, got shape \(3, 4\)",
    )
    bad_extrinsics = {**raw.lidar2cam, "CAM_BACK_LEFT": np.full((4, 4), np.nan)}
    _refused(
        fusion_model, _raw(entry, root, lidar2cam=bad_extrinsics), ValueError, r"lidar2cam\[CAM_BACK_LEFT\]: .*NaN"
    )
    small = {**raw.images, "CAM_BACK": cv2.resize(raw.images["CAM_BACK"], (800, 450))}
    _refused(fusion_model, _raw(entry, root, images=small), ValueError, r"differ in size.*CAM_BACK 450x800")
    gray = {**raw.images, "CAM_FRONT": raw.images["CAM_FRONT"][..., 0]}
    _refused(fusion_model, _raw(entry, root, images=gray), ValueError, r"images\[CAM_FRONT\]: expected an HxWx3 uint8")
    missing = {**_files(entry, root)[1], "CAM_FRONT_LEFT": str(root / "nowhere.jpg")}
    _refused(fusion_model, _raw(entry, root, images=missing), FileNotFoundError, r"CAM_FRONT_LEFT.*not found.*nowhere")


def test_raw_point_errors_name_the_problem(fusion_model, entry, synthetic_nuscenes):
    root = Path(synthetic_nuscenes)
    points = _raw(entry, root, arrays=True).points.copy()
    with_nan = points.copy()
    with_nan[3, 1] = np.nan
    _refused(fusion_model, _raw(entry, root, points=with_nan), ValueError, rf"points: 1 of {len(points)} .*NaN")
    _refused(fusion_model, _raw(entry, root, points=points[:, :3]), ValueError, r"points: 3 columns.*\[0, 1, 2, 3, 4\]")
    _refused(fusion_model, _raw(entry, root, points=points[:, 0]), ValueError, r"points: expected a \(P, C\) array")
    _refused(fusion_model, _raw(entry, root, points=str(root / "none.bin")), FileNotFoundError, "none.bin")


def test_info_entry_and_sample_type_errors(fusion_model, entry, synthetic_nuscenes, tmp_path):
    _refused(fusion_model, {"token": "x"}, ValueError, "no 'lidar_points'.*data_list")
    _refused(fusion_model, entry, FileNotFoundError, "camera image missing: .*CAM_FRONT", data_root=str(tmp_path))
    _refused(fusion_model, ["not", "a", "sample"], TypeError, "info entry .* or a RawSample")
    bare = init_model(LIDAR)
    del bare.cfg
    _refused(bare, RawSample(points=np.zeros((10, 5))), ValueError, "no config attached.*init_model")
