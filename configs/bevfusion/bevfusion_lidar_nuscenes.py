# BEVFusion LiDAR-only (TransFusion-L) on nuScenes: 0.075 m voxels, 10 LiDAR frames, GT sampling until epoch 15,
# AdamW with the cyclic 20-epoch schedule. MIT HAN Lab bevfusion:
# configs/nuscenes/det/transfusion/secfpn/lidar/voxelnet_0p075.yaml and .../lidar/default.yaml (gt_paste_stop_epoch).
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.nuscenes import *
    from .._base_.default_runtime import *
    from .._base_.models.bevfusion_lidar import *
    from .._base_.schedules.cyclic_20e import *

train_dataloader["dataset"]["dataset"]["pipeline"] = lidar_train_pipeline
val_dataloader["dataset"]["pipeline"] = lidar_test_pipeline
test_dataloader = val_dataloader
custom_hooks = [dict(type="DisableObjectSampleHook", disable_after_epoch=15)]
