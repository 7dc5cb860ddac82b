"""`BEVFusionDataPreprocessor`: collated samples -> batched, normalised, voxelized model inputs.

Input is mmengine's `pseudo_collate` of `Pack3DDetInputs` outputs. Output:

    {'inputs': {'points': [ (P_i, C) float32, ... ],
                'imgs': (B, N_cam, 3, H, W) float32 normalised (when images are present),
                'voxels': {...} (when `voxelize` is configured),
                'calib': CalibrationBundle with leading batch dim},
     'data_samples': [Det3DDataSample, ...]}

Voxel coordinates carry the batch index first: `coors` is `(V, 4)` int32 `(batch, z, y, x)`.
Hard mode gives `voxels` `(V, M, C)` (or `(V, C)` with `reduce='mean'`) and `num_points`
`(V,)`; dynamic mode gives one row per in-range point: `voxels` `(P', C)` and its `coors`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from bevfusion.ops.voxelize import dynamic_voxelize, hard_voxelize
from bevfusion.registry import MODELS
from bevfusion.structures import CalibrationBundle

VOXELIZE_MODES = ("hard", "dynamic")


@MODELS.register_module()
class BEVFusionDataPreprocessor(BaseDataPreprocessor):
    """Batch images as `(B, N, 3, H, W)` normalised with `mean`/`std` (RGB, 0-255 scale) and voxelize points.

    `voxelize`: `dict(mode='hard', voxel_size, point_cloud_range, max_num_points, max_voxels,
    reduce='none')` where `max_voxels` is an int or a `(training, testing)` pair, or
    `dict(mode='dynamic', voxel_size, point_cloud_range)`; `None` skips voxelization.
    """

    def __init__(
        self,
        mean: Sequence[float] = (123.675, 116.28, 103.53),
        std: Sequence[float] = (58.395, 57.12, 57.375),
        voxelize: dict | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking=non_blocking)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 1, 3, 1, 1), persistent=False)
        self.voxelize_cfg = self._check_voxelize(voxelize)

    @staticmethod
    def _check_voxelize(cfg: dict | None) -> dict | None:
        if cfg is None:
            return None
        cfg = dict(cfg)
        mode = cfg.pop("mode", "hard")
        if mode not in VOXELIZE_MODES:
            raise ValueError(f"voxelize.mode must be one of {VOXELIZE_MODES}, got {mode!r}")
        allowed = {"voxel_size", "point_cloud_range"}
        if mode == "hard":
            allowed |= {"max_num_points", "max_voxels", "reduce"}
            max_voxels = cfg.get("max_voxels", 20000)
            cfg["max_voxels"] = (max_voxels, max_voxels) if isinstance(max_voxels, int) else tuple(max_voxels)
            cfg.setdefault("max_num_points", 10)
            cfg.setdefault("reduce", "none")
        unknown = set(cfg) - allowed
        missing = {"voxel_size", "point_cloud_range"} - set(cfg)
        if unknown or missing:
            raise ValueError(f"voxelize ({mode}): unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        return {"mode": mode, **cfg}

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs, samples = data["inputs"], data.get("data_samples")
        batch: dict = {"points": list(inputs["points"])}
        if "img" in inputs:
            batch["imgs"] = self._normalise(inputs["img"])
        if self.voxelize_cfg is not None:
            batch["voxels"] = self.voxelize(batch["points"], training)
        if samples and all("calib" in sample for sample in samples):
            batch["calib"] = CalibrationBundle.stack([sample.calib for sample in samples])
        return {"inputs": batch, "data_samples": samples}

    def _normalise(self, images: Sequence[torch.Tensor]) -> torch.Tensor:
        shapes = {tuple(image.shape) for image in images}
        if len(shapes) != 1:
            raise ValueError(f"cannot batch camera images of different shapes {sorted(shapes)}")
        stacked = torch.stack(list(images)).float()
        return (stacked - self.mean) / self.std

    @torch.no_grad()
    def voxelize(self, points: Sequence[torch.Tensor], training: bool) -> dict:
        """Voxelize each cloud and concatenate, prepending the batch index to the coordinates."""
        cfg = self.voxelize_cfg
        voxels, coors, num_points = [], [], []
        for index, cloud in enumerate(points):
            if cfg["mode"] == "hard":
                max_voxels = cfg["max_voxels"][0 if training else 1]
                feats, coords, counts = hard_voxelize(
                    cloud, cfg["voxel_size"], cfg["point_cloud_range"], cfg["max_num_points"], max_voxels, cfg["reduce"]
                )
                num_points.append(counts)
            else:
                coords = dynamic_voxelize(cloud, cfg["voxel_size"], cfg["point_cloud_range"])
                inside = coords[:, 0] >= 0
                feats, coords = cloud[inside], coords[inside]
            voxels.append(feats)
            coors.append(F.pad(coords, (1, 0), value=index))
        result = {"voxels": torch.cat(voxels), "coors": torch.cat(coors)}
        if num_points:
            result["num_points"] = torch.cat(num_points)
        return result
