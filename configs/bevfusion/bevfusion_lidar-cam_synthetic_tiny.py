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
# GT sampling as in the LiDAR-only row (the paper's fusion stage has none, after a LiDAR model trained to the end):
# here the fusion stage is the second half of one short schedule, and without the pasted objects the model's LiDAR
# part lost the rare classes' AP the LiDAR stage had (benchmark of 2026-12-06, camera blanked against LiDAR-only:
# bus 0.38 / 0.44, trailer 0.14 / 0.19, construction vehicle 0.57 / 0.63). Objects are pasted into the points only.
train_dataloader["dataset"]["dataset"]["pipeline"] = [
    *multimodal_train_pipeline[:3],  # images, points, sweeps
    db_sampler,
    *multimodal_train_pipeline[3:],
]
load_from_missing_ok = ["encoders.camera.", "fuser."]  # the parts a LiDAR-only checkpoint does not have
default_hooks["checkpoint"] = dict(default_hooks["checkpoint"], by_epoch=False, interval=max_iters // 4)
log_processor = dict(type="LogProcessor", window_size=20, by_epoch=False)
