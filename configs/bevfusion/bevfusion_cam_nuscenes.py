# BEVFusion camera-only on nuScenes: Swin-T at 256x704 with the plain LSS view transform (no LiDAR depth hint),
# then the same SECOND/SECONDFPN decoder and TransFusion head as the other configs, on the 180 x 180 grid.
# Encoder: MIT HAN Lab bevfusion configs/nuscenes/det/centerhead/lssfpn/camera/256x704/swint/default.yaml
# (its LSSTransform, dbound, zbound, downsample 2, backbone lr x 0.1, no decay on Swin's position tables), on the
# fusion config's 0.3 m grid; MIT pairs that encoder with a CenterPoint head and a GeneralizedResNet decoder, here
# the decoder input is the 80 camera channels. Schedule: that config's cyclic policy (target ratio 5) over 20 epochs.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.nuscenes import *
    from .._base_.default_runtime import *
    from .._base_.models.bevfusion_camera import *
    from .._base_.models.bevfusion_lidar import *
    from .._base_.schedules.cyclic_20e import *

camera_encoder["vtransform"] = dict(
    {key: value for key, value in camera_encoder["vtransform"].items() if key != "type"}, type="LSSTransform"
)
model = dict(
    type="BEVFusion",
    data_preprocessor=dict(type="BEVFusionDataPreprocessor"),
    encoders=dict(camera=camera_encoder),
    decoder=dict(decoder, backbone=dict(decoder["backbone"], in_channels=80)),
    heads=dict(object=object_head),
)
param_scheduler[0]["eta_min"] = lr * 5
optim_wrapper["paramwise_cfg"] = dict(
    custom_keys={
        "relative_position_bias_table": dict(decay_mult=0.0),
        "encoders.camera.backbone": dict(lr_mult=0.1),
    }
)
