# Tiny camera-only BEVFusion on the synthetic set, for a 2-core CPU: ResNet-18, plain LSS (no LiDAR depth hint).
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.synthetic_nuscenes import *
    from .._base_.default_runtime import *
    from .._base_.models.bevfusion_tiny import *
    from .._base_.schedules.tiny_onecycle import *

camera_encoder["vtransform"] = dict(
    {key: value for key, value in camera_encoder["vtransform"].items() if key != "type"}, type="LSSTransform"
)
model = dict(
    type="BEVFusion",
    data_preprocessor=dict(type="BEVFusionDataPreprocessor"),
    encoders=dict(camera=camera_encoder),
    decoder=dict(decoder, backbone=dict(decoder["backbone"], in_channels=camera_bev_channels)),
    heads=dict(object=object_head),
)
default_hooks["checkpoint"] = dict(default_hooks["checkpoint"], by_epoch=False, interval=max_iters // 4)
log_processor = dict(type="LogProcessor", window_size=20, by_epoch=False)
