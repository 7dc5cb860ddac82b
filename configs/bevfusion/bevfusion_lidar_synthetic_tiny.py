# Tiny LiDAR-only BEVFusion on the synthetic set, for a 2-core CPU (tools/benchmark.py learn, make demo, CI).
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.synthetic_nuscenes import *
    from .._base_.default_runtime import *
    from .._base_.models.bevfusion_tiny import *
    from .._base_.schedules.cyclic_20e import *

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
custom_hooks = [dict(type="DisableObjectSampleHook", disable_after_epoch=15)]
