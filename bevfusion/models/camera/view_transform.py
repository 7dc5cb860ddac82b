"""Camera -> BEV view transforms (Lift-Splat-Shoot) over the native `bev_pool`.

Every feature pixel is lifted to `D` depth bins. Its frustum points come from the
`CalibrationBundle` alone: undo the image augmentation, lift the pixel at each depth
through `cam2img` and `lidar2cam`, then apply the LiDAR augmentation, which is one product
with `CalibrationBundle.img2lidar`. A depth net predicts a distribution over the bins and a
context vector; `bev_pool` sums depth x context into BEV cells without building the frustum
tensor.

Feature pixel `(i, j)` of a stride-`s` map covers image pixels `[s*j, s*(j+1))`, so its centre
is `u = s*(j + 0.5) - 0.5` in the image's pixel-centre convention (OpenCV's, as the data
pipeline's). The reference implementations place it at `j*(W-1)/(fW-1)`, which drifts by up to
half a stride across the image.

`depth_loss_weight > 0` supervises the depth distribution with the LiDAR (BEVDepth's depth loss): a feature
pixel's target is the bin nearest the closest point projected into its stride x stride patch, and the loss is the
mean negative log-likelihood of that bin over the pixels that have one. Unsupervised, the tiny configs' depth
stayed near uniform after a 30-minute schedule (entropy 3.70 of a uniform 3.99 over 54 bins, p(true bin) 0.02), so
every camera feature was spread along its whole ray in BEV. The points are training-time targets only: a
camera-only model still predicts from images alone.

The geometry (ranks, sort order, cell intervals) is cached in eval mode and reused while the
batch's `lidar2img` is unchanged (inference on a fixed rig); training recomputes it every step,
since augmentation changes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bevfusion.ops.bev_pool import BEVPoolGeometry, bev_pool, bev_pool_geometry, cells_along
from bevfusion.registry import MODELS
from bevfusion.structures import CalibrationBundle

from ..layers import conv_bn_relu


def depth_bins(dbound: Sequence[float]) -> torch.Tensor:
    """Bin depths `min, min + step, ...` below `max`, as BEVFusion's `torch.arange(*dbound)`."""
    low, high, step = (float(value) for value in dbound)
    if not step > 0 or not high > low:
        raise ValueError(f"dbound must be (min, max, step) with max > min > 0 and step > 0, got {tuple(dbound)}")
    return torch.arange(low, high, step, dtype=torch.float64)


def feature_pixel_centres(
    image_size: Sequence[int], feature_size: Sequence[int], device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 image coordinates `(fH,)` v and `(fW,)` u of the feature pixels' centres: `s*(j + 0.5) - 0.5`."""
    (height, width), (feature_h, feature_w) = image_size, feature_size
    v = (torch.arange(feature_h, device=device, dtype=torch.float64) + 0.5) * (height / feature_h) - 0.5
    u = (torch.arange(feature_w, device=device, dtype=torch.float64) + 0.5) * (width / feature_w) - 0.5
    return v, u


class BaseViewTransform(nn.Module):
    """Frustum geometry, its cache, bev_pool and the optional BEV downsample; subclasses predict depth x context.

    Args:
        in_channels: channels of the image feature map.
        out_channels: BEV context channels C.
        image_size: `(H, W)` of the (augmented) input images.
        feature_size: `(fH, fW)` of the feature map (image size / stride).
        xbound, ybound, zbound: BEV grid `(min, max, step)` per axis, metres.
        dbound: depth bins `(min, max, step)`, metres.
        downsample: 1, or a stride for three 3x3 conv + BN + ReLU layers at C (the middle one strided).
        depth_loss_weight: weight of the LiDAR depth supervision (`depth_loss`); 0 (the paper's) leaves depth
            to be learnt from the detection loss alone.
    """

    uses_depth_image = False  # whether depth_and_context reads the sparse LiDAR depth image

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_size: Sequence[int],
        feature_size: Sequence[int],
        xbound: Sequence[float],
        ybound: Sequence[float],
        zbound: Sequence[float],
        dbound: Sequence[float],
        downsample: int = 1,
        depth_loss_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if depth_loss_weight < 0:
            raise ValueError(f"depth_loss_weight must be >= 0, got {depth_loss_weight}")
        self.depth_loss_weight = float(depth_loss_weight)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.image_size = tuple(int(v) for v in image_size)
        self.feature_size = tuple(int(v) for v in feature_size)
        if any(size % feature != 0 for size, feature in zip(self.image_size, self.feature_size)):
            raise ValueError(f"image_size {self.image_size} must be a multiple of feature_size {self.feature_size}")
        self.bounds = tuple(tuple(float(v) for v in bound) for bound in (xbound, ybound, zbound))
        self.grid_cells = tuple(cells_along(b, n) for b, n in zip(self.bounds, ("xbound", "ybound", "zbound")))
        self.dbound = tuple(float(v) for v in dbound)
        self.register_buffer("frustum", self._frustum(depth_bins(dbound)), persistent=False)
        self.depth_channels = self.frustum.shape[0]
        if downsample == 1:
            self.downsample = nn.Identity()
        else:
            self.downsample = nn.Sequential(
                conv_bn_relu(out_channels * self.grid_cells[2], out_channels),
                conv_bn_relu(out_channels, out_channels, stride=downsample),
                conv_bn_relu(out_channels, out_channels),
            )
        self._cached_key: torch.Tensor | None = None
        self._cached_geometry: BEVPoolGeometry | None = None

    def _frustum(self, depths: torch.Tensor) -> torch.Tensor:
        """`(D, fH, fW, 4)` homogeneous pixels `(u*d, v*d, d, 1)` of every feature pixel at every bin depth."""
        v, u = feature_pixel_centres(self.image_size, self.feature_size)
        d, v, u = torch.meshgrid(depths, v, u, indexing="ij")
        return torch.stack([u * d, v * d, d, torch.ones_like(d)], -1)

    def frustum_points(self, calib: CalibrationBundle) -> torch.Tensor:
        """`(B, N, D, fH, fW, 3)` LiDAR-frame (augmented) points of every feature pixel and depth bin."""
        img2lidar = calib.img2lidar.to(device=self.frustum.device, dtype=torch.float64)
        points = torch.einsum("bnij,dhwj->bndhwi", img2lidar[..., :3, :], self.frustum)
        return points.float()

    def geometry(self, calib: CalibrationBundle) -> BEVPoolGeometry:
        """The bev_pool geometry of this batch, reused in eval mode while `lidar2img` is unchanged."""
        if self.training:
            self._cached_key = self._cached_geometry = None
            return bev_pool_geometry(self.frustum_points(calib), *self.bounds)
        key = calib.lidar2img
        if self._cached_key is None or self._cached_key.shape != key.shape or not torch.equal(self._cached_key, key):
            self._cached_geometry = bev_pool_geometry(self.frustum_points(calib), *self.bounds)
            self._cached_key = key.clone()
        return self._cached_geometry

    def depth_and_context(
        self, features: torch.Tensor, depth_image: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B*N, D, fH, fW)` depth probabilities and `(B*N, C, fH, fW)` context; subclasses define it.

        `depth_image` is the `(B*N, 1, H, W)` sparse LiDAR depth image when `uses_depth_image`, else None.
        """
        raise NotImplementedError

    def forward(self, features: torch.Tensor, points: Sequence[torch.Tensor], calib: CalibrationBundle) -> torch.Tensor:
        """Image features `(B, N, C_in, fH, fW)` -> camera BEV `(B, C, nx, ny)` (after the downsample)."""
        return self.lift(features, points, calib)[0]

    def lift(
        self,
        features: torch.Tensor,
        points: Sequence[torch.Tensor],
        calib: CalibrationBundle,
        with_depth_loss: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The camera BEV map and, when `with_depth_loss`, the weighted LiDAR depth loss (else None)."""
        batch, cameras = features.shape[:2]
        if tuple(features.shape[-2:]) != self.feature_size:
            raise ValueError(
                f"{type(self).__name__}: feature map {tuple(features.shape[-2:])} does not match feature_size "
                f"{self.feature_size} (image_size {self.image_size} in the config?)"
            )
        if calib.cam2img.shape[:2] != (batch, cameras):
            raise ValueError(
                f"{type(self).__name__}: {cameras} camera images per sample but the calibration has "
                f"{tuple(calib.cam2img.shape[:2])} (batch, cameras)"
            )
        depth_image = None
        if self.uses_depth_image or with_depth_loss:
            depth_image = self.depth_image(points, calib)
        depth, context = self.depth_and_context(features.flatten(0, 1), depth_image)
        bev = self.pool(depth.unflatten(0, (batch, cameras)), context.unflatten(0, (batch, cameras)), calib)
        loss = self.depth_loss(depth, depth_image) if with_depth_loss else None
        return self.downsample(bev), loss

    def depth_image(self, points: Sequence[torch.Tensor], calib: CalibrationBundle) -> torch.Tensor:
        """`(B*N, 1, H, W)`: the batch's points as sparse depth images, one per augmented camera image."""
        return sparse_depth_image(points, calib, self.image_size).flatten(0, 1)

    def depth_targets(self, depth_image: torch.Tensor) -> torch.Tensor:
        """`(B*N, fH, fW)` bin index of the nearest point in each feature pixel's patch, -1 where none is in range."""
        stride = self.image_size[0] // self.feature_size[0], self.image_size[1] // self.feature_size[1]
        nearest = -nn.functional.max_pool2d(-torch.where(depth_image > 0, depth_image, torch.inf), stride)[:, 0]
        low, _, step = self.dbound
        bins = torch.round((nearest.double() - low) / step)
        in_range = torch.isfinite(bins) & (bins >= 0) & (bins < self.depth_channels)
        return torch.where(in_range, bins, -1).long()

    def depth_loss(self, depth: torch.Tensor, depth_image: torch.Tensor) -> torch.Tensor:
        """`depth_loss_weight` x the mean negative log-likelihood of the LiDAR bin, over pixels that have one."""
        targets = self.depth_targets(depth_image)
        supervised = targets >= 0
        if not supervised.any():
            return depth.sum() * 0.0
        likelihood = depth.gather(1, targets.clamp(min=0).unsqueeze(1))[:, 0][supervised]
        return -self.depth_loss_weight * likelihood.clamp(min=1e-6).log().mean()

    def pool(self, depth: torch.Tensor, context: torch.Tensor, calib: CalibrationBundle) -> torch.Tensor:
        """Depth `(B, N, D, fH, fW)` x context `(B, N, C, fH, fW)` summed into BEV cells `(B, nz*C, nx, ny)`."""
        return bev_pool(depth.float(), context.permute(0, 1, 3, 4, 2).float(), self.geometry(calib))


@MODELS.register_module()
class LSSTransform(BaseViewTransform):
    """Lift-Splat-Shoot: a 1x1 conv predicts D depth logits and C context channels per feature pixel."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.depthnet = nn.Conv2d(self.in_channels, self.depth_channels + self.out_channels, 1)

    def depth_and_context(self, features, depth_image):
        logits = self.depthnet(features)
        return logits[:, : self.depth_channels].softmax(1), logits[:, self.depth_channels :]


@MODELS.register_module()
class DepthLSSTransform(BaseViewTransform):
    """LSS with BEVFusion's LiDAR depth hint.

    The points are projected into every augmented image as a 1-channel sparse depth image
    (the nearest point per pixel, 0 where none), encoded at the feature stride by
    conv 1->8 (1x1), 8->32 (5x5, stride 4), 32->64 (5x5, stride 2), each with BN + ReLU,
    concatenated with the image features, and fed to the depth net: 3x3 (C_in + 64 -> C_in),
    3x3 (C_in -> C_in), 1x1 (-> D + C), softmax over D.
    """

    DEPTH_HINT_CHANNELS = 64
    uses_depth_image = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        stride = self.image_size[0] // self.feature_size[0]
        if stride != 8 or self.image_size[1] // self.feature_size[1] != 8:
            raise ValueError(f"DepthLSSTransform: the depth hint encoder has stride 8, the features have {stride}")
        self.dtransform = nn.Sequential(
            conv_bn_relu(1, 8, kernel_size=1),
            conv_bn_relu(8, 32, kernel_size=5, stride=4),
            conv_bn_relu(32, self.DEPTH_HINT_CHANNELS, kernel_size=5, stride=2),
        )
        channels = self.in_channels
        self.depthnet = nn.Sequential(
            conv_bn_relu(channels + self.DEPTH_HINT_CHANNELS, channels),
            conv_bn_relu(channels, channels),
            nn.Conv2d(channels, self.depth_channels + self.out_channels, 1),
        )

    def depth_and_context(self, features, depth_image):
        hint = self.dtransform(depth_image)
        logits = self.depthnet(torch.cat([features, hint.to(features.dtype)], 1))
        return logits[:, : self.depth_channels].softmax(1), logits[:, self.depth_channels :]


def sparse_depth_image(
    points: Sequence[torch.Tensor], calib: CalibrationBundle, image_size: Sequence[int]
) -> torch.Tensor:
    """`(B, N, 1, H, W)`: the depth of the nearest point at each pixel of each augmented image, 0 where none.

    A point lands on the pixel whose centre is nearest to its projection; points behind a
    camera or outside its image are dropped.
    """
    height, width = image_size
    lidar2img = calib.lidar2img
    batch, cameras = lidar2img.shape[:2]
    device = points[0].device if len(points) else lidar2img.device
    image = torch.full((batch * cameras * height * width,), float("inf"), device=device)
    for sample, cloud in enumerate(points):
        xyz = cloud[:, :3].to(torch.float64)
        projected = torch.einsum("nij,pj->npi", lidar2img[sample, :, :3, :3].to(xyz), xyz)
        projected = projected + lidar2img[sample, :, None, :3, 3].to(xyz)
        depth = projected[..., 2]
        in_front = depth > 1e-3
        u = torch.floor(projected[..., 0] / depth.clamp(min=1e-3) + 0.5)
        v = torch.floor(projected[..., 1] / depth.clamp(min=1e-3) + 0.5)
        keep = in_front & (u >= 0) & (u < width) & (v >= 0) & (v < height)
        camera = torch.arange(cameras, device=device).unsqueeze(1).expand_as(depth)
        flat = ((sample * cameras + camera) * height + v.long()) * width + u.long()
        image.scatter_reduce_(0, flat[keep], depth[keep].float(), reduce="amin")
    image = torch.where(torch.isinf(image), torch.zeros_like(image), image)
    return image.view(batch, cameras, 1, height, width)
