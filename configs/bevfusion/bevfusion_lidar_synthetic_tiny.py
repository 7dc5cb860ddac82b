# Tiny LiDAR-only BEVFusion on the synthetic set, for a 2-core CPU (tools/benchmark.py learn, make demo, CI).
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.synthetic_nuscenes import *
    from .._base_.default_runtime import *
    from .._base_.models.bevfusion_tiny import *
    from .._base_.schedules.tiny_onecycle import *

model = dict(
    type="BEVFusion",
    data_preprocessor=data_preprocessor,
    encoders=dict(lidar=lidar_encoder),
    decoder=decoder,
    heads=dict(object=object_head),
)
train_dataloader["dataset"]["dataset"]["pipeline"] = lidar_train_pipeline
val_dataloader["dataset"]["pipeline"] = lidar_test_pipeline
test_dataloader = val_dataloader
default_hooks["checkpoint"] = dict(default_hooks["checkpoint"], by_epoch=False, interval=max_iters // 4)
log_processor = dict(type="LogProcessor", window_size=20, by_epoch=False)
