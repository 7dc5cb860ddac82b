"""The BEV-side modules: mean voxel encoder, the fusers, SECOND and SECONDFPN (shapes, gradients, config errors)."""

import pytest
import torch

from bevfusion.models import SECOND, SECONDFPN, ConvFuser, HardSimpleVFE, ResidualConvFuser


def test_mean_vfe_averages_only_the_points_each_voxel_holds():
    voxels = torch.zeros(2, 4, 6)
    voxels[0, :3, :5] = torch.tensor([[1.0, 2, 3, 4, 5], [3, 4, 5, 6, 7], [5, 6, 7, 8, 9]])
    voxels[1, :1, :5] = torch.tensor([[-1.0, 0, 1, 0.5, 0]])
    voxels[:, :, 5] = 100.0  # a column past num_features is ignored
    means = HardSimpleVFE(num_features=5)(voxels, torch.tensor([3, 1]))
    torch.testing.assert_close(means, torch.tensor([[3.0, 4, 5, 6, 7], [-1, 0, 1, 0.5, 0]]))
    with pytest.raises(ValueError, match="reduce='none'"):
        HardSimpleVFE(num_features=5)(torch.zeros(2, 5), torch.tensor([1, 1]))


def test_conv_fuser_concatenates_in_config_order_and_checks_channels_and_grids():
    fuser = ConvFuser(in_channels=(3, 5), out_channels=4)
    camera, lidar = torch.randn(2, 3, 8, 6, requires_grad=True), torch.randn(2, 5, 8, 6, requires_grad=True)
    fused = fuser([camera, lidar])
    assert fused.shape == (2, 4, 8, 6) and (fused >= 0).all()
    fused.sum().backward()
    assert camera.grad.abs().sum() > 0 and lidar.grad.abs().sum() > 0
    assert fuser.fuse[0].bias is None and fuser.fuse[0].kernel_size == (3, 3)
    with pytest.raises(ValueError, match=r"\(5, 3\) channels, the config says \(3, 5\)"):
        fuser([lidar, camera])
    with pytest.raises(ValueError, match="different sizes"):
        fuser([camera, torch.randn(2, 5, 8, 7)])


def test_residual_fuser_passes_the_lidar_map_through_at_init_and_learns_a_camera_residual():
    torch.manual_seed(0)
    fuser = ResidualConvFuser(in_channels=(3, 5), hidden_channels=4)
    camera, lidar = torch.randn(2, 3, 8, 6, requires_grad=True), torch.randn(2, 5, 8, 6)
    fused = fuser([camera, lidar])
    torch.testing.assert_close(fused, lidar, rtol=0, atol=0)
    fused.square().sum().backward()
    assert fuser.to_residual.weight.grad.abs().sum() > 0, "the zero-initialised conv must still learn"
    with torch.no_grad():
        fuser.to_residual.weight.normal_()
    camera.grad = None
    moved = fuser([camera, lidar])
    assert not torch.allclose(moved, lidar)
    moved.sum().backward()
    assert camera.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"ResidualConvFuser: got maps with \(5, 3\) channels"):
        fuser([lidar, camera])


def test_second_and_its_fpn_return_a_stride_1_map_of_both_stages():
    backbone = SECOND(in_channels=6, out_channels=(4, 8), layer_nums=(2, 1), layer_strides=(1, 2))
    neck = SECONDFPN(in_channels=(4, 8), out_channels=(3, 5), upsample_strides=(1, 2))
    bev = torch.randn(2, 6, 16, 12, requires_grad=True)
    stages = backbone(bev)
    assert [tuple(s.shape) for s in stages] == [(2, 4, 16, 12), (2, 8, 8, 6)]
    out = neck(stages)
    assert out.shape == (2, 8, 16, 12)
    out.square().mean().backward()
    for module in (backbone, neck):
        for name, parameter in module.named_parameters():
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert len(backbone.blocks[0]) == 3 and backbone.blocks[1][0][0].stride == (2, 2)
    assert backbone.blocks[0][0][1].eps == 1e-3 and backbone.blocks[0][0][1].momentum == 0.01
    with pytest.raises(ValueError, match="one entry per stage"):
        SECOND(out_channels=(4, 8), layer_nums=(2,), layer_strides=(1, 2))
