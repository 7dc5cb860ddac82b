"""The LiDAR SparseEncoder: BEV layout, training, registry, mmdetection3d names and the spconv backend."""

import torch

from bevfusion.models.lidar.sparse_encoder import SparseEncoder
from bevfusion.registry import MODELS


def _voxels(generator, count, batch_size=2):
    """Distinct random voxels `(batch, z, y, x)` in the tiny grid (z 41, y 32, x 40)."""
    keys = torch.randperm(batch_size * 41 * 32 * 40, generator=generator)[:count]
    coords = torch.stack([keys // (41 * 32 * 40), keys // (32 * 40) % 41, keys // 40 % 32, keys % 40], dim=1)
    return torch.randn(count, 4, generator=generator), coords.int()


def test_bev_is_channels_times_depth_with_x_first(tiny_encoder_config):
    encoder = SparseEncoder(**tiny_encoder_config).eval()
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.abs_()  # positive weights keep a positive voxel alive through every ReLU
    features = torch.ones(1, 4)
    coords = torch.tensor([[0, 20, 2, 38]], dtype=torch.int32)  # z 20, y 2, x 38: far along x, near y = 0
    with torch.no_grad():
        bev = encoder(features, coords, batch_size=1)
    assert bev.shape == (1, 16 * 2, 5, 4)
    active = bev[0].abs().sum(dim=0).nonzero()  # (x cell, y cell) pairs
    assert len(active) > 0 and (active[:, 0] == 4).all() and (active[:, 1] <= 1).all()


def test_training_step_reaches_every_parameter(tiny_encoder_config):
    generator = torch.Generator().manual_seed(0)
    features, coords = _voxels(generator, 600)
    encoder = MODELS.build(dict(type="SparseEncoder", **tiny_encoder_config)).train()
    encoder(features.requires_grad_(), coords, batch_size=2).square().mean().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_bevfusion_config_has_mmdetection3d_names_and_spconv_shapes(tiny_encoder_config):
    config = dict(
        tiny_encoder_config, in_channels=5, sparse_shape=(1440, 1440, 41), output_channels=128, base_channels=16
    )
    config["encoder_channels"] = ((16, 16, 32), (32, 32, 64), (64, 64, 128), (128, 128))
    shapes = {name: tuple(p.shape) for name, p in SparseEncoder(**config).state_dict().items()}
    assert shapes["conv_input.0.weight"] == (16, 3, 3, 3, 5)
    assert shapes["encoder_layers.encoder_layer1.0.conv1.weight"] == (16, 3, 3, 3, 16)
    assert shapes["encoder_layers.encoder_layer3.2.0.weight"] == (128, 3, 3, 3, 64)
    assert shapes["encoder_layers.encoder_layer4.1.bn2.running_var"] == (128,)
    assert shapes["conv_out.0.weight"] == (128, 3, 1, 1, 128)
