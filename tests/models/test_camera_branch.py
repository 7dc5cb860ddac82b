"""Camera branch: torchvision backbones, the LSS neck and the view transforms' geometry, cache and depth hint."""

import math

import numpy as np
import pytest
import torch
from rig_helpers import resize_affine, rig_calibration, rig_matrices

from bevfusion.models import DepthLSSTransform, GeneralizedLSSFPN, LSSTransform, ResNet, SwinTransformer
from bevfusion.models.camera.view_transform import depth_bins, sparse_depth_image
from bevfusion.models.checkpoint import CheckpointMismatchError
from bevfusion.structures import rotation_z_matrix

IMAGE_SIZE = (64, 176)
GRID = dict(xbound=(-54.0, 54.0, 0.6), ybound=(-54.0, 54.0, 0.6), zbound=(-10.0, 10.0, 20.0), dbound=(1.0, 60.0, 1.0))


def test_swin_t_returns_192_384_768_at_strides_8_16_32():
    backbone = SwinTransformer(out_indices=(1, 2, 3)).eval()
    assert backbone.out_channels == (192, 384, 768)
    with torch.no_grad():
        outputs = backbone(torch.randn(2, 3, 64, 176))
    assert [tuple(o.shape) for o in outputs] == [(2, 192, 8, 22), (2, 384, 4, 11), (2, 768, 2, 6)]
    blocks = [module for module in backbone.modules() if type(module).__name__ == "SwinTransformerBlock"]
    assert len(blocks) == 12
    assert max(block.stochastic_depth.p for block in blocks) == pytest.approx(0.2)


@pytest.mark.parametrize("depth, channels", [(18, (128, 256, 512)), (50, (512, 1024, 2048))])
def test_resnet_returns_the_named_stages(depth, channels):
    backbone = ResNet(depth=depth, out_indices=(1, 2, 3)).eval()
    with torch.no_grad():
        outputs = backbone(torch.randn(1, 3, 64, 128))
    assert [tuple(o.shape) for o in outputs] == [(1, c, 64 // s, 128 // s) for c, s in zip(channels, (8, 16, 32))]


def test_pretrained_backbone_loads_a_torchvision_state_dict_and_refuses_another(tmp_path):
    import torchvision

    source = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    backbone = ResNet(depth=18, out_indices=(0, 1), pretrained=str(path))
    torch.testing.assert_close(backbone.layer2[0].conv1.weight, source.layer2[0].conv1.weight)
    assert not hasattr(backbone, "layer3")
    with pytest.raises(CheckpointMismatchError, match="shape mismatches.*conv1.weight"):
        ResNet(depth=50, out_indices=(0, 1), pretrained=str(path))
    torch.save(torchvision.models.swin_t(weights=None).state_dict(), path)
    SwinTransformer(out_indices=(1,), pretrained=str(path))
    with pytest.raises(CheckpointMismatchError, match="resnet|no key matches|missing"):
        ResNet(depth=18, pretrained=str(path))


def test_resnet_frozen_stages_train_only_the_later_stages_and_keep_the_forward():
    torch.manual_seed(0)
    trained = ResNet(depth=18, out_indices=(1, 2))
    frozen = ResNet(depth=18, out_indices=(1, 2), frozen_stages=1)
    frozen.load_state_dict(trained.state_dict())
    images = torch.randn(2, 3, 64, 128)
    for expected, output in zip(trained(images), frozen(images)):
        torch.testing.assert_close(output, expected)
    sum(output.square().mean() for output in frozen(images)).backward()
    for name, parameter in frozen.named_parameters():
        if name.startswith(("conv1.", "bn1.", "layer1.")):
            assert not parameter.requires_grad and parameter.grad is None, name
        else:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="frozen_stages"):
        ResNet(depth=18, out_indices=(1, 2), frozen_stages=4)


def test_generalized_lss_fpn_fuses_top_down_to_strides_8_and_16():
    neck = GeneralizedLSSFPN(in_channels=(192, 384, 768), out_channels=256).eval()
    inputs = [torch.randn(1, 192, 32, 88), torch.randn(1, 384, 16, 44), torch.randn(1, 768, 8, 22)]
    with torch.no_grad():
        outputs = neck(inputs)
    assert [tuple(o.shape) for o in outputs] == [(1, 256, 32, 88), (1, 256, 16, 44)]
    with torch.no_grad():
        changed = neck([inputs[0], inputs[1], inputs[2] + 1.0])
    assert not torch.allclose(changed[0], outputs[0]), "the coarsest level must reach the finest output"


class OneFeatureLSS(LSSTransform):
    """LSS whose depth net is replaced by one feature at one depth bin of one pixel of one camera."""

    def __init__(self, camera, row, column, depth_index, **kwargs):
        super().__init__(**kwargs)
        self.spot = (camera, row, column, depth_index)

    def depth_and_context(self, features, depth_image):
        cameras, _, height, width = features.shape
        camera, row, column, depth_index = self.spot
        depth = features.new_zeros(cameras, self.depth_channels, height, width)
        depth[camera, depth_index, row, column] = 1.0
        return depth, features.new_ones(cameras, self.out_channels, height, width)


def _expected_cell(affine, camera, row, column, depth, stride, lidar_aug):
    """The BEV cell of the lifted point, computed from the raw rig: un-augment the pixel, back-project, augment."""
    cam2img, lidar2cam = rig_matrices()
    u_aug, v_aug = stride * (column + 0.5) - 0.5, stride * (row + 0.5) - 0.5
    u, v, _ = np.linalg.solve(affine, [u_aug, v_aug, 1.0])
    ray = np.linalg.solve(cam2img[camera, :3, :3], [u, v, 1.0])
    point = np.linalg.inv(lidar2cam[camera]) @ np.append(ray * depth, 1.0)
    point = lidar_aug @ point
    low, step = np.array([GRID["xbound"][0], GRID["ybound"][0]]), np.array([GRID["xbound"][2], GRID["ybound"][2]])
    return tuple(np.floor((point[:2] - low) / step).astype(int))


@pytest.mark.parametrize("augmented", [False, True])
@pytest.mark.parametrize(
    "camera, row, column, depth_index", [(0, 5, 11, 12), (2, 7, 3, 30), (3, 2, 19, 5), (5, 0, 0, 40)]
)
def test_a_feature_at_a_known_depth_lands_in_the_bev_cell_of_its_3d_point(augmented, camera, row, column, depth_index):
    rng = np.random.default_rng(camera * 100 + depth_index)
    affines = np.stack(
        [resize_affine(IMAGE_SIZE, rotate_deg=rng.uniform(-5.4, 5.4), flip=bool(i % 2)) for i in range(6)]
        if augmented
        else [resize_affine(IMAGE_SIZE)] * 6
    )
    lidar_aug = np.eye(4)
    if augmented:
        lidar_aug = rotation_z_matrix(0.6).numpy() * np.array([1.07, 1.07, 1.07, 1.0])[:, None]
        lidar_aug[:3, 3] = [0.4, -0.3, 0.2]
        lidar_aug[1] *= -1  # a horizontal flip
    calib = rig_calibration(IMAGE_SIZE, affines=affines, lidar_aug=lidar_aug)
    transform = OneFeatureLSS(
        camera,
        row,
        column,
        depth_index,
        in_channels=4,
        out_channels=3,
        image_size=IMAGE_SIZE,
        feature_size=(8, 22),
        **GRID,
    ).eval()
    with torch.no_grad():
        bev = transform(torch.zeros(1, 6, 4, 8, 22), [torch.zeros(0, 5)], calib)
    assert bev.shape == (1, 3, 180, 180)
    cells = bev[0, 0].nonzero().tolist()
    depth = float(depth_bins(GRID["dbound"])[depth_index])
    assert cells == [list(_expected_cell(affines[camera], camera, row, column, depth, 8, lidar_aug))]


def test_geometry_is_cached_in_eval_mode_while_the_rig_is_unchanged_and_recomputed_in_training():
    transform = LSSTransform(in_channels=4, out_channels=3, image_size=IMAGE_SIZE, feature_size=(8, 22), **GRID)
    calib = rig_calibration(IMAGE_SIZE, batch=2)
    transform.eval()
    first = transform.geometry(calib)
    assert transform.geometry(rig_calibration(IMAGE_SIZE, batch=2)) is first
    moved = rig_calibration(IMAGE_SIZE, batch=2, lidar_aug=rotation_z_matrix(0.1).numpy())
    second = transform.geometry(moved)
    assert second is not first and not torch.equal(second.point_cell, first.point_cell)
    transform.train()
    assert transform.geometry(moved) is not transform.geometry(moved)


def test_sparse_depth_image_keeps_the_nearest_point_at_its_pixel():
    calib = rig_calibration(IMAGE_SIZE)
    _, lidar2cam = rig_matrices()
    cam2lidar = np.linalg.inv(lidar2cam[0])
    near, far = (cam2lidar @ [0.0, 0.0, depth, 1.0] for depth in (10.0, 25.0))  # on the front camera's axis
    behind = cam2lidar @ [0.0, 0.0, -5.0, 1.0]
    points = torch.tensor(np.array([far[:3], near[:3], behind[:3]]), dtype=torch.float32)
    image = sparse_depth_image([torch.cat([points, torch.zeros(3, 2)], 1)], calib, IMAGE_SIZE)
    assert image.shape == (1, 6, 1, *IMAGE_SIZE)
    lit = image[0, 0, 0].nonzero().tolist()
    assert len(lit) == 1 and image[0, 0, 0][tuple(lit[0])] == pytest.approx(10.0, rel=1e-5)
    cam2img, _ = rig_matrices()
    affine = resize_affine(IMAGE_SIZE)
    u, v, _ = affine @ [cam2img[0, 0, 2], cam2img[0, 1, 2], 1.0]  # the principal point
    assert lit[0] == [math.floor(v + 0.5), math.floor(u + 0.5)]


def test_depth_lss_trains_with_a_one_channel_depth_hint_and_empty_clouds():
    transform = DepthLSSTransform(
        in_channels=16, out_channels=8, image_size=IMAGE_SIZE, feature_size=(8, 22), downsample=2, **GRID
    )
    assert transform.dtransform[0][0].in_channels == 1
    features = torch.randn(2, 6, 16, 8, 22, requires_grad=True)
    points = [torch.randn(500, 5) * 10, torch.zeros(0, 5)]
    bev = transform(features, points, rig_calibration(IMAGE_SIZE, batch=2))
    assert bev.shape == (2, 8, 90, 90)
    bev.square().mean().backward()
    assert features.grad.abs().sum() > 0
    for name, parameter in transform.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_view_transform_rejects_a_feature_map_or_calibration_that_does_not_fit():
    transform = LSSTransform(in_channels=4, out_channels=3, image_size=IMAGE_SIZE, feature_size=(8, 22), **GRID)
    with pytest.raises(ValueError, match="feature_size"):
        transform(torch.zeros(1, 6, 4, 16, 44), [torch.zeros(0, 5)], rig_calibration(IMAGE_SIZE))
    with pytest.raises(ValueError, match="calibration"):
        transform(torch.zeros(1, 5, 4, 8, 22), [torch.zeros(0, 5)], rig_calibration(IMAGE_SIZE))


def _front_axis_points(depths):
    """LiDAR points on the front camera's optical axis at the given depths (metres), as a `(P, 5)` cloud."""
    _, lidar2cam = rig_matrices()
    cam2lidar = np.linalg.inv(lidar2cam[0])
    xyz = np.array([(cam2lidar @ [0.0, 0.0, depth, 1.0])[:3] for depth in depths])
    return torch.cat([torch.tensor(xyz, dtype=torch.float32), torch.zeros(len(depths), 2)], 1)


def test_depth_target_is_the_bin_of_the_nearest_point_in_the_feature_pixels_patch():
    transform = LSSTransform(in_channels=4, out_channels=3, image_size=IMAGE_SIZE, feature_size=(8, 22), **GRID)
    calib = rig_calibration(IMAGE_SIZE)
    image = sparse_depth_image([_front_axis_points([25.2, 9.7])], calib, IMAGE_SIZE).flatten(0, 1)
    targets = transform.depth_targets(image)
    assert targets.shape == (6, 8, 22)
    supervised = (targets >= 0).nonzero().tolist()
    assert len(supervised) == 1 and supervised[0][0] == 0
    pixel = image[0, 0].nonzero()[0] // 8
    assert supervised[0][1:] == pixel.tolist()
    assert targets[tuple(supervised[0])] == 9  # the nearer point, 9.7 m, is nearest the bin at 10 m (bins 1, 2, ...)
    far = sparse_depth_image([_front_axis_points([75.0])], calib, IMAGE_SIZE).flatten(0, 1)
    assert (transform.depth_targets(far) == -1).all(), "beyond the last bin: no target"


def test_depth_loss_teaches_the_depth_net_the_lidar_depth():
    torch.manual_seed(0)
    transform = LSSTransform(
        in_channels=8, out_channels=3, image_size=IMAGE_SIZE, feature_size=(8, 22), depth_loss_weight=2.0, **GRID
    ).train()
    calib = rig_calibration(IMAGE_SIZE, batch=2)
    points = [_front_axis_points([12.0]), _front_axis_points([40.0])]
    features = torch.zeros(2, 6, 8, 8, 22)
    features[1, :, 0] = 1.0  # the two samples' images differ, so the depth net can tell them apart
    features[:, :, 1] = 1.0
    bev, loss = transform.lift(features, points, calib, with_depth_loss=True)
    assert bev.shape == (2, 3, 180, 180)
    assert loss.item() == pytest.approx(2.0 * math.log(transform.depth_channels), rel=0.1), "near-uniform at init"
    assert transform.lift(features, points, calib)[1] is None
    optimizer = torch.optim.Adam(transform.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        transform.lift(features, points, calib, with_depth_loss=True)[1].backward()
        optimizer.step()
    image = sparse_depth_image(points, calib, IMAGE_SIZE).flatten(0, 1)
    targets = transform.depth_targets(image)
    depth, _ = transform.depth_and_context(features.flatten(0, 1), None)
    predicted = depth.argmax(1)[targets >= 0]
    assert predicted.tolist() == targets[targets >= 0].tolist() == [11, 39]
    empty = transform.lift(features, [torch.zeros(0, 5)] * 2, calib, with_depth_loss=True)[1]
    assert empty.item() == 0.0 and empty.requires_grad, "a batch without points in range adds nothing"
