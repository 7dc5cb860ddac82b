"""Image-plane supervision of the camera features: which class of object each feature pixel shows.

In a camera+LiDAR model fine-tuned from a LiDAR-only checkpoint, the camera's only detection
gradient passes through the fuser's zero-initialised residual conv, so a camera branch that
starts from random weights learns its semantics slowly (the learning benchmark measured it adding
0 to 0.016 mAP after 394 iterations). This head gives the image features a direct, dense signal:
every GT box is projected into every (augmented) camera image, the feature pixels whose centres
fall inside its 2D extent are labelled with its class (the nearest box where boxes overlap, the
background class elsewhere), and a 1x1 conv is trained on them with cross-entropy. It is a
training-time loss only; prediction does not run it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bevfusion.registry import MODELS
from bevfusion.structures import LiDARBoxes

from .view_transform import feature_pixel_centres


@MODELS.register_module()
class PerspectiveSemanticHead(nn.Module):
    """1x1 conv from the image features to `num_classes + 1` logits (the last: background), and its loss.

    Args:
        in_channels: channels of the image feature map (the neck's finest output).
        num_classes: object classes, in the labels' order.
        image_size: `(H, W)` of the (augmented) input images.
        feature_size: `(fH, fW)` of the feature map.
        loss_weight: weight of the cross-entropy.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: Sequence[int],
        feature_size: Sequence[int],
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f"PerspectiveSemanticHead: loss_weight must be >= 0, got {loss_weight}")
        self.num_classes = int(num_classes)
        self.image_size = tuple(int(v) for v in image_size)
        self.feature_size = tuple(int(v) for v in feature_size)
        self.loss_weight = float(loss_weight)
        self.classifier = nn.Conv2d(in_channels, self.num_classes + 1, 1)

    def targets(self, lidar2img: torch.Tensor, boxes: LiDARBoxes, labels: torch.Tensor) -> torch.Tensor:
        """`(N, fH, fW)` class per feature pixel of one sample's N cameras; `num_classes` is the background.

        A box is drawn as the 2D extent of its corners in front of the camera (depth > 0.1 m); where extents
        overlap, the box whose centre is nearest the camera wins.
        """
        cameras = lidar2img.shape[0]
        device = lidar2img.device
        background = torch.full((cameras, *self.feature_size), self.num_classes, dtype=torch.long, device=device)
        if len(boxes) == 0:
            return background
        corners = boxes.corners.to(device=device, dtype=torch.float64)
        centres = boxes.center.to(device=device, dtype=torch.float64)
        matrix = lidar2img.to(torch.float64)
        projected = torch.einsum("nij,mkj->nmki", matrix[:, :3, :3], corners) + matrix[:, None, None, :3, 3]
        depth = projected[..., 2]
        in_front = depth > 0.1
        u = projected[..., 0] / depth.clamp(min=0.1)
        v = projected[..., 1] / depth.clamp(min=0.1)
        inf = torch.tensor(float("inf"), dtype=torch.float64, device=device)
        u_min, u_max = torch.where(in_front, u, inf).amin(-1), torch.where(in_front, u, -inf).amax(-1)
        v_min, v_max = torch.where(in_front, v, inf).amin(-1), torch.where(in_front, v, -inf).amax(-1)
        centre_depth = torch.einsum("nj,mj->nm", matrix[:, 2, :3], centres) + matrix[:, None, 2, 3]
        v_centres, u_centres = feature_pixel_centres(self.image_size, self.feature_size, device)
        inside = (
            (u_centres >= u_min[..., None, None])
            & (u_centres <= u_max[..., None, None])
            & (v_centres[:, None] >= v_min[..., None, None])
            & (v_centres[:, None] <= v_max[..., None, None])
        )  # (N, M, fH, fW); a box with no corner in front has an empty extent
        distance = torch.where(inside, centre_depth[..., None, None], inf)
        nearest = distance.argmin(1)
        drawn = torch.isfinite(distance.amin(1))
        return torch.where(drawn, labels.to(device).long()[nearest], background)

    def loss(
        self,
        features: torch.Tensor,
        lidar2img: torch.Tensor,
        boxes: Sequence[LiDARBoxes],
        labels: Sequence[torch.Tensor],
    ) -> torch.Tensor:
        """`loss_weight` x the cross-entropy of features `(B*N, C, fH, fW)` against the projected GT classes."""
        if tuple(features.shape[-2:]) != self.feature_size:
            raise ValueError(
                f"PerspectiveSemanticHead: feature map {tuple(features.shape[-2:])} does not match feature_size "
                f"{self.feature_size}"
            )
        targets = torch.cat(
            [
                self.targets(matrix, sample_boxes, sample_labels)
                for matrix, sample_boxes, sample_labels in zip(lidar2img, boxes, labels)
            ]
        )
        logits = self.classifier(features)
        return self.loss_weight * nn.functional.cross_entropy(logits.float(), targets)
