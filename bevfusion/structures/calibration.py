"""The typed calibration and augmentation bundle that travels with every sample.

Per camera: `cam2img` (intrinsics, 4x4), `lidar2cam` (extrinsics, 4x4) and `img_aug`
(the resize/crop/flip/rotate applied to the image). `img_aug` acts on homogeneous pixels
`(u*d, v*d, d, 1)`, so it composes with the projection by plain matrix products; a 2D
affine `p' = A p + t` therefore keeps its translation in column 2, not 3. Build it with
`image_affine_to_matrix`, never by hand.
Per sample: `lidar_aug` (the global rotation/scale/flip/translation applied to points and
boxes, 4x4). The view transform and the visualiser read only this structure.

Shapes: cameras carry a leading `(..., N_cam, 4, 4)`, `lidar_aug` carries `(..., 4, 4)`
with the same leading dims, so one sample and a batch share one class.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


def image_affine_to_matrix(affine: torch.Tensor) -> torch.Tensor:
    """The 4x4 `img_aug` for a 2D pixel affine `(..., 2, 3)` = `[A | t]`.

    Acting on `(u*d, v*d, d, 1)`, the translation must scale with depth, so it goes in
    column 2; depth itself is unchanged.
    """
    affine = torch.as_tensor(affine, dtype=torch.float64)
    matrix = torch.eye(4, dtype=affine.dtype, device=affine.device).expand(*affine.shape[:-2], 4, 4).clone()
    matrix[..., :2, :2] = affine[..., :2, :2]
    matrix[..., :2, 2] = affine[..., :2, 2]
    return matrix


def _identity_like(reference: torch.Tensor, leading: tuple[int, ...]) -> torch.Tensor:
    return torch.eye(4, dtype=reference.dtype, device=reference.device).expand(*leading, 4, 4).clone()


@dataclass
class CalibrationBundle:
    """Camera calibration plus the augmentations applied to images and to the LiDAR frame."""

    cam2img: torch.Tensor
    lidar2cam: torch.Tensor
    img_aug: torch.Tensor
    lidar_aug: torch.Tensor

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not torch.is_tensor(value):
                value = torch.as_tensor(value, dtype=torch.float64)
                setattr(self, field.name, value)
            if value.shape[-2:] != (4, 4):
                raise ValueError(f"CalibrationBundle.{field.name}: expected (..., 4, 4), got {tuple(value.shape)}")
        camera_shape = self.cam2img.shape
        for name in ("lidar2cam", "img_aug"):
            if getattr(self, name).shape != camera_shape:
                raise ValueError(
                    f"CalibrationBundle.{name}: shape {tuple(getattr(self, name).shape)} "
                    f"does not match cam2img {tuple(camera_shape)}"
                )
        if self.lidar_aug.shape[:-2] != camera_shape[:-3]:
            raise ValueError(
                f"CalibrationBundle.lidar_aug: leading shape {tuple(self.lidar_aug.shape[:-2])} "
                f"does not match the cameras' {tuple(camera_shape[:-3])}"
            )

    @classmethod
    def from_cameras(
        cls,
        cam2img: torch.Tensor,
        lidar2cam: torch.Tensor,
        img_aug: torch.Tensor | None = None,
        lidar_aug: torch.Tensor | None = None,
    ) -> CalibrationBundle:
        """A bundle with identity augmentations where none are given.

        `cam2img` may be 3x3 intrinsics; it is padded to 4x4.
        """
        cam2img = torch.as_tensor(cam2img, dtype=torch.float64)
        if cam2img.shape[-2:] == (3, 3):
            padded = _identity_like(cam2img, cam2img.shape[:-2])
            padded[..., :3, :3] = cam2img
            cam2img = padded
        lidar2cam = torch.as_tensor(lidar2cam, dtype=cam2img.dtype)
        if img_aug is None:
            img_aug = _identity_like(cam2img, cam2img.shape[:-2])
        if lidar_aug is None:
            lidar_aug = _identity_like(cam2img, cam2img.shape[:-3])
        return cls(
            cam2img,
            lidar2cam,
            torch.as_tensor(img_aug, dtype=cam2img.dtype),
            torch.as_tensor(lidar_aug, dtype=cam2img.dtype),
        )

    @property
    def num_cameras(self) -> int:
        return self.cam2img.shape[-3]

    @property
    def lidar2img(self) -> torch.Tensor:
        """`(..., N_cam, 4, 4)`: augmented LiDAR frame -> augmented image pixels.

        This is the projection the model sees: undo `lidar_aug`, go to the camera, project,
        then apply the image augmentation. Pixel coordinates are `(u*d, v*d, d, 1)`.
        """
        undo_lidar_aug = torch.linalg.inv(self.lidar_aug).unsqueeze(-3)
        return self.img_aug @ self.cam2img @ self.lidar2cam @ undo_lidar_aug

    @property
    def img2lidar(self) -> torch.Tensor:
        """Inverse of `lidar2img`: augmented pixels `(u*d, v*d, d, 1)` -> augmented LiDAR frame."""
        return torch.linalg.inv(self.lidar2img)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project LiDAR-frame points `(..., P, 3)` into every camera.

        Returns pixels `(..., N_cam, P, 2)` and depths `(..., N_cam, P)`; pixels of points
        behind a camera (depth <= 0) are meaningless and should be masked by the caller.
        """
        homogeneous = torch.cat([points, torch.ones_like(points[..., :1])], -1).to(self.lidar2img.dtype)
        projected = torch.einsum("...cij,...pj->...cpi", self.lidar2img, homogeneous)
        depth = projected[..., 2]
        pixels = projected[..., :2] / depth.clamp(min=1e-6).unsqueeze(-1)
        return pixels, depth

    def to(self, *args, **kwargs) -> CalibrationBundle:
        return CalibrationBundle(*(getattr(self, f.name).to(*args, **kwargs) for f in fields(self)))

    @staticmethod
    def stack(bundles: list[CalibrationBundle]) -> CalibrationBundle:
        """Batch per-sample bundles along a new leading dimension (for collate)."""
        if not bundles:
            raise ValueError("CalibrationBundle.stack: got no bundles")
        return CalibrationBundle(
            *(torch.stack([getattr(b, f.name) for b in bundles]) for f in fields(CalibrationBundle))
        )
