"""Dense building blocks shared by the camera branch, fuser and decoder."""

from __future__ import annotations

from torch import nn


def conv_bn_relu(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    bn_eps: float = 1e-5,
    bn_momentum: float = 0.1,
) -> nn.Sequential:
    """Conv2d (no bias, 'same' padding for odd kernels) -> BatchNorm2d -> ReLU, as mmcv's ConvModule."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum),
        nn.ReLU(inplace=True),
    )


def count_parameters(module: nn.Module) -> int:
    """Learnable parameters of a module."""
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)
