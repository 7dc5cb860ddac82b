# BEVFusion camera + LiDAR on nuScenes: Swin-T at 256x704 with DepthLSS, the LiDAR-only model's LiDAR branch,
# ConvFuser [80, 256] -> 256; AdamW lr 2e-4, cosine with a 500-iteration warm-up, 6 epochs, no GT sampling.
# MIT HAN Lab bevfusion: configs/nuscenes/det/transfusion/secfpn/camera+lidar/swint_v0p075/{default,convfuser}.yaml.
# Initialised from the LiDAR-only checkpoint (`load_from`): the camera encoder and the fuser start fresh.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.nuscenes import *
    from .._base_.default_runtime import *
    from .._base_.models.bevfusion_camera import *
    from .._base_.models.bevfusion_lidar import *
    from .._base_.schedules.cosine_6e import *

model["encoders"]["camera"] = camera_encoder
model["fuser"] = fuser
load_from = "work_dirs/bevfusion_lidar_nuscenes/epoch_20.pth"
load_from_missing_ok = ["encoders.camera.", "fuser."]  # the parts the LiDAR-only model does not have
