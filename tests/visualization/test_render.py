"""The renderer: mosaic layout, display scaling through `img_aug`, BEV orientation and colours, and a whole frame
of a synthetic sample drawn where the projection puts its boxes."""

import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from bevfusion.datasets.synthetic.rig import CAMERAS, LIDAR
from bevfusion.registry import DATASETS, register_all_modules
from bevfusion.structures import CalibrationBundle, LiDARBoxes, rotation_z_matrix
from bevfusion.visualization import (
    BEVView,
    CameraProjection,
    CameraViews,
    FrameStyle,
    box_segments,
    class_color,
    ego_forward,
    mosaic_layout,
    render_bev,
    render_camera_mosaic,
    render_data_sample,
    render_sample,
    save_image,
)
from bevfusion.visualization.box_set import BoxSet
from bevfusion.visualization.palette import EGO_COLOR, height_colors

CONFIG = os.path.join(os.path.dirname(__file__), "../../configs/bevfusion/bevfusion_lidar-cam_synthetic_tiny.py")
LOADER_ORDER = ["CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT"]


def _rig_bundle() -> CalibrationBundle:
    """The synthetic rig's six cameras at 1600x900, in the loader's order, no augmentation."""
    lidar2ego = LIDAR.sensor2ego()
    cameras = {camera.channel: camera for camera in CAMERAS}
    cam2img = np.stack([np.asarray(cameras[name].intrinsic) for name in LOADER_ORDER])
    lidar2cam = np.stack([np.linalg.inv(cameras[name].sensor2ego()) @ lidar2ego for name in LOADER_ORDER])
    return CalibrationBundle.from_cameras(cam2img, lidar2cam)


def test_nuscenes_cameras_are_tiled_front_row_then_back_row_whatever_their_order():
    assert mosaic_layout(LOADER_ORDER) == [[2, 0, 1], [4, 3, 5]]
    assert mosaic_layout(["a", "b", "c", "d"]) == [[0, 1, 2], [3, None, None]]
    views = CameraViews(
        [np.full((90, 160, 3), 20 * (index + 1), np.uint8) for index in range(6)], _rig_bundle(), LOADER_ORDER
    )
    mosaic = render_camera_mosaic(views, [], [], (90, 160))
    assert mosaic.shape == (180, 480, 3)
    for row, names in enumerate(
        [["CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"], ["CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT"]]
    ):
        for column, name in enumerate(names):
            bottom_right = mosaic[row * 90 + 89, column * 160 + 159]  # away from the camera name caption
            assert (bottom_right == 20 * (LOADER_ORDER.index(name) + 1)).all(), name


def test_display_resize_moves_projections_as_cv2_resize_moves_pixel_centres():
    rng = np.random.default_rng(0)
    views = CameraViews([rng.integers(0, 255, (900, 1600, 3), dtype=np.uint8)] * 6, _rig_bundle(), LOADER_ORDER)
    shown = views.resized((270, 480))
    assert all(image.shape == (270, 480, 3) for image in shown.images)
    points = torch.tensor([[3.0, 20.0, -1.0], [-4.0, 12.0, 0.5]], dtype=torch.float64)  # ahead of CAM_FRONT
    original, depth = views.calib.project(points)
    resized, _ = shown.calib.project(points)
    assert (depth[0] > 0).all()
    scale = np.array([480 / 1600, 270 / 900])
    np.testing.assert_allclose(resized[0].numpy(), scale * (original[0].numpy() + 0.5) - 0.5, atol=1e-9)


def test_bev_turns_the_ego_forward_direction_up_without_mirroring():
    view = BEVView(size=200, extent=50.0, forward=(0.0, 1.0))  # nuScenes LIDAR_TOP: +y ahead, +x to the right
    # 2 px per metre; pixel centres run 0..199, so the LiDAR sits at (99.5, 99.5).
    np.testing.assert_allclose(view.to_pixels(np.array([[0.0, 10.0], [10.0, 0.0]])), [[99.5, 79.5], [119.5, 99.5]])
    view = BEVView(size=200, extent=50.0, forward=(1.0, 0.0))  # +x ahead: +y is on the left
    np.testing.assert_allclose(view.to_pixels(np.array([[10.0, 0.0], [0.0, 10.0]])), [[99.5, 79.5], [79.5, 99.5]])


def test_ego_forward_comes_from_lidar2ego_else_from_the_front_camera_and_follows_the_lidar_augmentation():
    np.testing.assert_allclose(ego_forward(lidar2ego=LIDAR.sensor2ego()), [0.0, 1.0], atol=1e-9)
    bundle = _rig_bundle()
    np.testing.assert_allclose(ego_forward(bundle, LOADER_ORDER), [0.0, 1.0], atol=1e-6)
    turned = CalibrationBundle(bundle.cam2img, bundle.lidar2cam, bundle.img_aug, rotation_z_matrix(np.pi / 2))
    np.testing.assert_allclose(ego_forward(turned, LOADER_ORDER, LIDAR.sensor2ego()), [-1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(ego_forward(), [1.0, 0.0])


def test_bev_panel_draws_points_by_height_boxes_with_heading_and_the_ego_car():
    view = BEVView(size=400, extent=40.0, forward=(0.0, 1.0))
    points = np.array([[-20.0, -20.0, -1.8], [20.0, -20.0, 1.5]])
    box = LiDARBoxes(torch.tensor([[0.0, 20.0, 0.0, 4.0, 2.0, 1.5, np.pi / 2, 0.0, 0.0]]))  # ahead, heading ahead
    boxes = BoxSet.from_instances(InstanceData(bboxes_3d=box, labels_3d=torch.tensor([0]), scores_3d=torch.ones(1)))
    panel = render_bev(view, points, [boxes], ["car"], height_range=(-2.0, 2.0))
    for point, color in zip(points, height_colors(points[:, 2], (-2.0, 2.0))):
        column, row = np.rint(view.to_pixels(point[:2])).astype(int)
        assert (panel[row, column] == color).all()
    centre, front = np.rint(view.to_pixels(np.array([[0.0, 20.0], [0.0, 21.0]]))).astype(int)
    heading_pixel = (centre + front) // 2  # on the heading mark, inside the footprint
    assert np.abs(panel[heading_pixel[1], heading_pixel[0]].astype(int) - class_color("car")).max() < 60
    ego = np.rint(view.to_pixels(np.array([0.0, -1.0]))).astype(int)
    assert (panel[ego[1], ego[0]] == EGO_COLOR).all()
    # The same box as ground truth: dashed and thin, so it covers some but fewer pixels than the prediction.
    ground_truth = BoxSet.from_instances(InstanceData(bboxes_3d=box, labels_3d=torch.tensor([0])), ground_truth=True)
    empty = render_bev(view, None, [], ["car"])
    covered = [(render_bev(view, None, [kind], ["car"]) != empty).any(-1).sum() for kind in (boxes, ground_truth)]
    assert 0 < covered[1] < covered[0] / 2


@pytest.fixture(scope="module")
def packed_sample(synthetic_nuscenes, synthetic_infos):
    """Val sample 1 through the fusion config's test pipeline (augmented images, sweeps), its GT as predictions."""
    register_all_modules()
    config = Config.fromfile(CONFIG)
    dataset = DATASETS.build(
        {**config.test_dataloader.dataset, "ann_file": synthetic_infos["val"], "data_root": str(synthetic_nuscenes)}
    )
    packed = dataset[1]
    gt = packed["data_samples"].gt_instances_3d
    scores = torch.linspace(1.0, 0.5, len(gt.labels_3d))
    packed["data_samples"].pred_instances_3d = InstanceData(
        bboxes_3d=gt.bboxes_3d, labels_3d=gt.labels_3d, scores_3d=scores
    )
    return packed, list(config.class_names)


def test_a_sample_frame_draws_each_box_where_its_camera_projects_it(packed_sample):
    packed, class_names = packed_sample
    sample = packed["data_samples"]
    style = FrameStyle(height=400)
    frame = render_data_sample(packed["inputs"], sample, class_names, style)
    views = CameraViews.from_model_input(packed["inputs"]["img"], sample.calib, LOADER_ORDER)
    bare = render_sample(class_names, views, style=style)
    tile_height, tile_width = 200, 2 * round(200 * 352 / 128 / 2)
    assert frame.shape == (400 + 28, 3 * tile_width + 400, 3)
    assert sample.metainfo["camera_types"] == LOADER_ORDER
    shown = views.resized((tile_height, tile_width))
    boxes = BoxSet.from_instances(sample.pred_instances_3d)
    checked = set()
    for row, indices in enumerate(mosaic_layout(LOADER_ORDER)):
        for column, camera in enumerate(indices):
            projection = CameraProjection.from_bundle(shown.calib, camera, (tile_height, tile_width))
            for corners in boxes.corners:
                for _, start, end in box_segments(corners, projection):
                    if np.hypot(end[0] - start[0], end[1] - start[1]) < 20:
                        continue
                    u, v = (np.array(start) + np.array(end)) // 2
                    y, x = row * tile_height + v, column * tile_width + u
                    assert (frame[y, x] != bare[y, x]).any(), f"{LOADER_ORDER[camera]}: no line at ({u}, {v})"
                    checked.add(LOADER_ORDER[camera])
    assert checked == set(LOADER_ORDER)  # every camera sees a box of the synthetic world


def test_predictions_below_the_score_threshold_are_not_drawn(packed_sample):
    packed, class_names = packed_sample
    sample = packed["data_samples"].clone()
    style = FrameStyle(height=200, score_threshold=2.0)
    with_predictions = render_data_sample(packed["inputs"], sample, class_names, style, show_ground_truth=False)
    del sample.pred_instances_3d
    without = render_data_sample(packed["inputs"], sample, class_names, style, show_ground_truth=False)
    assert np.array_equal(with_predictions, without)


def test_save_image_writes_a_lossless_png_atomically(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    path = tmp_path / "frames" / "sample.png"
    save_image(path, image)
    assert np.array_equal(cv2.imread(str(path)), image)
    assert sorted(os.listdir(path.parent)) == ["sample.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # as a plain new file, not mkstemp's owner-only 0600
    with pytest.raises(ValueError, match="cannot encode"):
        save_image(tmp_path / "sample.unknown", image)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp_")]


def test_a_sample_without_images_renders_the_bev_panel_alone(packed_sample):
    packed, class_names = packed_sample
    inputs = {"points": packed["inputs"]["points"]}
    frame = render_data_sample(inputs, packed["data_samples"], class_names, FrameStyle(height=300))
    assert frame.shape == (300 + 28, 300, 3)
