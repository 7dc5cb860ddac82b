# BEVFusion's camera encoder (Swin-T, GeneralizedLSSFPN, DepthLSS) and ConvFuser at 256x704. Sources (MIT HAN Lab
# bevfusion): configs/nuscenes/det/transfusion/secfpn/camera+lidar/default.yaml (neck, vtransform),
# .../camera+lidar/swint_v0p075/default.yaml (Swin-T, xbound/ybound 0.3 m), .../swint_v0p075/convfuser.yaml (fuser).
# Imagenet weights: pass a local torchvision `swin_t` state dict as `pretrained`; nothing is downloaded.
from mmengine.config import read_base

with read_base():
    from ..datasets.nuscenes import image_size

camera_encoder = dict(
    backbone=dict(
        type="SwinTransformer",
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4.0,
        drop_path_rate=0.2,
        out_indices=[1, 2, 3],
        pretrained=None,
    ),
    neck=dict(type="GeneralizedLSSFPN", in_channels=[192, 384, 768], out_channels=256),
    vtransform=dict(
        type="DepthLSSTransform",
        in_channels=256,
        out_channels=80,
        image_size=image_size,
        feature_size=[image_size[0] // 8, image_size[1] // 8],
        xbound=[-54.0, 54.0, 0.3],
        ybound=[-54.0, 54.0, 0.3],
        zbound=[-10.0, 10.0, 20.0],
        dbound=[1.0, 60.0, 0.5],
        downsample=2,  # 360 -> 180 cells, the LiDAR BEV's grid
    ),
    num_cameras=6,
)
fuser = dict(type="ConvFuser", in_channels=[80, 256], out_channels=256)
