# Tiny camera + LiDAR BEVFusion on the synthetic set, for a 2-core CPU: the tiny LiDAR branch, ResNet-18 with
# DepthLSS, ResidualConvFuser. As in the paper, it is meant to start from a trained LiDAR-only model (`load_from` a
# bevfusion_lidar_synthetic_tiny checkpoint). tools/benchmark.py learn and make demo do it inside one schedule
# (bevfusion.engine.budget.train_fusion_within: this stage anneals from the lr the LiDAR stage reached); trained
# on its own, it runs the tiny one-cycle schedule.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.synthetic_nuscenes import *
    from .._base_.default_runtime import *
    from .._base_.models.bevfusion_tiny import *
    from .._base_.schedules.tiny_onecycle import *

model = dict(
    type="BEVFusion",
    data_preprocessor=data_preprocessor,
    encoders=dict(camera=camera_encoder, lidar=lidar_encoder),
    fuser=fuser,
    decoder=decoder,
    heads=dict(object=object_head),
)
load_from_missing_ok = ["encoders.camera.", "fuser."]  # the parts a LiDAR-only checkpoint does not have
default_hooks["checkpoint"] = dict(default_hooks["checkpoint"], by_epoch=False, interval=max_iters // 4)
log_processor = dict(type="LogProcessor", window_size=20, by_epoch=False)
