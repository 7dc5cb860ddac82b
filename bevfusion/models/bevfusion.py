"""`BEVFusion`: a dict of modality encoders -> fuser -> BEV decoder -> a dict of heads.

LiDAR-only, camera-only and camera+LiDAR models are the same class with different
`encoders`; a single encoder needs no fuser. Every encoder yields a BEV map `(B, C, nx, ny)`
on the same grid; the maps are fused in the fixed order camera, LiDAR (the fuser's
`in_channels` order).

`blank_sensors` evaluates a fusion model as if a sensor had failed: that encoder is not run
and the fuser gets zeros for its map. `tools/benchmark.py learn` scores the camera+LiDAR model
with the camera blanked, which measures what the camera branch adds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseModel
from torch import nn

from bevfusion.registry import MODELS
from bevfusion.structures import Det3DDataSample

SENSORS = ("camera", "lidar")
ENCODER_PARTS = {"camera": ("backbone", "neck", "vtransform"), "lidar": ("voxel_encoder", "backbone")}
OPTIONAL_PARTS = {"camera": ("semantic_head",), "lidar": ()}  # training-time supervision only


def _build_encoder(sensor: str, cfg: dict) -> tuple[nn.ModuleDict, dict]:
    """The encoder's modules, and the remaining (non-module) options of its config."""
    cfg = dict(cfg)
    parts = ENCODER_PARTS[sensor]
    missing = [part for part in parts if part not in cfg]
    if missing:
        raise ValueError(f"BEVFusion: encoders.{sensor} needs {list(parts)}, missing {missing}")
    parts += tuple(part for part in OPTIONAL_PARTS[sensor] if part in cfg)
    return nn.ModuleDict({part: MODELS.build(cfg.pop(part)) for part in parts}), cfg


def _check_blank_sensors(blank_sensors: Sequence[str] | str, encoders: list[str]) -> tuple[str, ...]:
    """`blank_sensors` as a tuple (one name may come as a string, as `--cfg-options` gives it), checked."""
    blank = (blank_sensors,) if isinstance(blank_sensors, str) else tuple(blank_sensors)
    unknown = sorted(set(blank) - set(encoders))
    if unknown:
        raise ValueError(f"BEVFusion: blank_sensors {unknown} are not among the model's encoders {encoders}")
    if set(blank) == set(encoders):
        raise ValueError(f"BEVFusion: blank_sensors {sorted(blank)} would blank every encoder; keep one")
    return blank


@MODELS.register_module()
class BEVFusion(BaseModel):
    """The detector.

    Args:
        encoders: `camera=dict(backbone, neck, vtransform, num_cameras=6)` (optionally `semantic_head`, an
            image-plane class loss on the neck's features in training) and/or
            `lidar=dict(voxel_encoder, backbone)`.
        fuser: merges the encoders' BEV maps; required with more than one encoder.
        decoder: `dict(backbone, neck)` over the fused BEV map.
        heads: `dict(object=...)`, the 3D detection head (`loss`, `predict`, `forward`).
        data_preprocessor: batching, normalisation and voxelization (`BEVFusionDataPreprocessor`).
        blank_sensors: sensors whose BEV map is zeros and whose encoder is not run (a sensor-failure
            ablation); at least one encoder must stay.
    """

    def __init__(
        self,
        encoders: dict,
        decoder: dict,
        heads: dict,
        fuser: dict | None = None,
        data_preprocessor: dict | None = None,
        blank_sensors: Sequence[str] = (),
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = sorted(set(encoders) - set(SENSORS))
        if unknown or not encoders:
            raise ValueError(f"BEVFusion: encoders must be some of {SENSORS}, got {sorted(encoders)}")
        self.encoders = nn.ModuleDict()
        self.num_cameras = None
        for sensor in SENSORS:
            if sensor in encoders:
                self.encoders[sensor], options = _build_encoder(sensor, encoders[sensor])
                if sensor == "camera":
                    self.num_cameras = int(options.pop("num_cameras", 6))
                if options:
                    raise ValueError(f"BEVFusion: unknown keys in encoders.{sensor}: {sorted(options)}")
        if len(self.encoders) > 1 and fuser is None:
            raise ValueError(f"BEVFusion: encoders {list(self.encoders)} need a fuser to merge their BEV maps")
        self.fuser = MODELS.build(fuser) if fuser is not None else None
        self.blank_sensors = _check_blank_sensors(blank_sensors, list(self.encoders))
        self.decoder = nn.ModuleDict({part: MODELS.build(decoder[part]) for part in ("backbone", "neck")})
        if set(heads) != {"object"}:
            raise ValueError(f"BEVFusion: heads must be dict(object=...), got {sorted(heads)}")
        self.heads = nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in heads.items()})

    # ------------------------------------------------------------------ features
    def camera_bev(
        self, inputs: dict, losses: dict | None = None, data_samples: Sequence | None = None
    ) -> torch.Tensor:
        """Images `(B, N, 3, H, W)` -> backbone -> neck (finest map) -> view transform -> `(B, C, nx, ny)`.

        Given `losses` (training), the camera's auxiliary losses the config asks for are added to it: the view
        transform's LiDAR depth loss (`loss_depth`) and the semantic head's image-plane class loss
        (`loss_image_semantic`, against the GT boxes of `data_samples`).
        """
        images = inputs.get("imgs")
        if images is None:
            raise ValueError(
                "BEVFusion: this config has a camera encoder but the batch has no images ('imgs'); load them with "
                "LoadMultiViewImageFromFiles in the pipeline, or use a LiDAR-only config"
            )
        if images.dim() != 5 or images.shape[1] != self.num_cameras:
            raise ValueError(
                f"BEVFusion: expected images (B, {self.num_cameras}, 3, H, W) as the config's num_cameras says, "
                f"got {tuple(images.shape)}"
            )
        if "calib" not in inputs:
            raise ValueError("BEVFusion: the camera encoder needs the batch's calibration ('calib'), none was given")
        encoder = self.encoders["camera"]
        batch, cameras = images.shape[:2]
        features = encoder["neck"](encoder["backbone"](images.flatten(0, 1)))[0]
        vtransform = encoder["vtransform"]
        with_depth_loss = losses is not None and vtransform.depth_loss_weight > 0
        bev, depth_loss = vtransform.lift(
            features.unflatten(0, (batch, cameras)), inputs["points"], inputs["calib"], with_depth_loss
        )
        if with_depth_loss:
            losses["loss_depth"] = depth_loss
        if losses is not None and "semantic_head" in encoder:
            instances = [sample.gt_instances_3d for sample in data_samples]
            losses["loss_image_semantic"] = encoder["semantic_head"].loss(
                features,
                inputs["calib"].lidar2img,
                [instance.bboxes_3d for instance in instances],
                [instance.labels_3d for instance in instances],
            )
        return bev

    def lidar_bev(self, inputs: dict) -> torch.Tensor:
        """Hard voxels -> voxel encoder -> sparse encoder -> `(B, C, nx, ny)`."""
        voxels = inputs.get("voxels")
        if voxels is None:
            raise ValueError(
                "BEVFusion: this config has a LiDAR encoder but the batch has no voxels; "
                "set data_preprocessor.voxelize, or use a camera-only config"
            )
        encoder = self.encoders["lidar"]
        features = encoder["voxel_encoder"](voxels["voxels"], voxels["num_points"])
        return encoder["backbone"](features, voxels["coors"], len(inputs["points"]))

    def extract_features(
        self, inputs: dict, losses: dict | None = None, data_samples: Sequence | None = None
    ) -> torch.Tensor:
        """The decoded BEV map `(B, C, nx, ny)` the heads read; encoders' auxiliary losses go into `losses` if given
        (their targets from `data_samples`)."""
        if "points" not in inputs:
            raise ValueError("BEVFusion: the batch has no 'points' (one tensor per sample, possibly empty)")
        live = {
            sensor: self.camera_bev(inputs, losses, data_samples) if sensor == "camera" else self.lidar_bev(inputs)
            for sensor in self.encoders
            if sensor not in self.blank_sensors
        }
        bev = self.fuser(self._with_blanks(live)) if self.fuser is not None else next(iter(live.values()))
        return self.decoder["neck"](self.decoder["backbone"](bev))

    def _with_blanks(self, live: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The fuser's maps in encoder order, zeros (the fuser's channels, the live maps' grid) for blank sensors."""
        like = next(iter(live.values()))
        return [
            live[sensor] if sensor in live else like.new_zeros(like.shape[0], channels, *like.shape[2:])
            for sensor, channels in zip(self.encoders, self.fuser.in_channels)
        ]

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: dict, data_samples: Sequence[Det3DDataSample] | None = None, mode: str = "tensor"):
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.heads["object"](self.extract_features(inputs))
        raise ValueError(f"BEVFusion: mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: dict, data_samples: Sequence[Det3DDataSample]) -> dict[str, torch.Tensor]:
        """The head's losses and the encoders' auxiliary ones (the camera's `loss_depth` where configured)."""
        samples = list(data_samples)
        encoder_losses: dict[str, torch.Tensor] = {}
        bev = self.extract_features(inputs, encoder_losses, samples)
        return {**self.heads["object"].loss(bev, samples), **encoder_losses}

    def predict(self, inputs: dict, data_samples: Sequence[Det3DDataSample]) -> list[Det3DDataSample]:
        """Fills every sample's `pred_instances_3d` (boxes in the LiDAR frame, scores, labels)."""
        samples = list(data_samples)
        for sample, predictions in zip(samples, self.heads["object"].predict(self.extract_features(inputs), samples)):
            sample.pred_instances_3d = predictions
        return samples
