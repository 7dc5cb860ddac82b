# BEVFusion's LiDAR-only detector at the paper's 0.075 m voxels (TransFusion-L). Sources (MIT HAN Lab bevfusion):
#   configs/nuscenes/det/transfusion/secfpn/lidar/voxelnet_0p075.yaml  voxelize, SparseEncoder
#   configs/nuscenes/det/transfusion/secfpn/default.yaml                SECOND, SECONDFPN, head in_channels 512
#   configs/nuscenes/det/transfusion/default.yaml                       TransFusionHead, assigner, losses
from mmengine.config import read_base

with read_base():
    from ..datasets.nuscenes import class_names, point_cloud_range, voxel_size

data_preprocessor = dict(
    type="BEVFusionDataPreprocessor",
    voxelize=dict(
        mode="hard",
        voxel_size=voxel_size,
        point_cloud_range=point_cloud_range,
        max_num_points=10,
        max_voxels=[120000, 160000],  # (training, testing)
    ),
)
lidar_encoder = dict(
    voxel_encoder=dict(type="HardSimpleVFE", num_features=5),
    backbone=dict(
        type="SparseEncoder",
        in_channels=5,
        sparse_shape=[1440, 1440, 41],  # (x, y, z) cells of the range at voxel_size
        output_channels=128,  # x 2 z-levels -> 256 BEV channels
        order=["conv", "norm", "act"],
        encoder_channels=[[16, 16, 32], [32, 32, 64], [64, 64, 128], [128, 128]],
        encoder_paddings=[[0, 0, 1], [0, 0, 1], [0, 0, [1, 1, 0]], [0, 0]],
        block_type="basicblock",
        backend="native",  # or 'spconv' / 'torchsparse' where installed
    ),
)
decoder = dict(
    backbone=dict(type="SECOND", in_channels=256, out_channels=[128, 256], layer_nums=[5, 5], layer_strides=[1, 2]),
    neck=dict(type="SECONDFPN", in_channels=[128, 256], out_channels=[256, 256], upsample_strides=[1, 2]),
)
object_head = dict(
    type="TransFusionHead",
    in_channels=512,
    hidden_channel=128,
    num_classes=len(class_names),
    class_names=class_names,
    num_proposals=200,
    auxiliary=True,
    num_decoder_layers=1,
    num_heads=8,
    ffn_channel=256,
    dropout=0.1,
    bn_momentum=0.1,
    activation="relu",
    nms_kernel_size=3,
    nms_kernel_size_per_class=dict(pedestrian=1, traffic_cone=1),  # by name, not index (MIT issues #163, #331)
    common_heads=dict(center=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
    point_cloud_range=point_cloud_range,
    voxel_size=voxel_size,
    out_size_factor=8,  # 1440 / 8 = 180 BEV cells
    bbox_coder=dict(
        type="TransFusionBBoxCoder",
        post_center_range=[-61.2, -61.2, -10.0, 61.2, 61.2, 10.0],
        score_threshold=0.0,
        code_size=10,
    ),
    train_cfg=dict(
        gaussian_overlap=0.1,
        min_radius=2,
        pos_weight=-1,
        code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2],
        assigner=dict(
            type="HungarianAssigner3D",
            cls_cost=dict(type="FocalLossCost", gamma=2.0, alpha=0.25, weight=0.15),
            reg_cost=dict(type="BBoxBEVL1Cost", weight=0.25),
            iou_cost=dict(type="IoU3DCost", weight=0.25),
        ),
    ),
    test_cfg=dict(nms=None),
    loss_cls=dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, reduction="mean", loss_weight=1.0),
    loss_heatmap=dict(type="GaussianFocalLoss", reduction="mean", loss_weight=1.0),
    loss_bbox=dict(type="L1Loss", reduction="mean", loss_weight=0.25),
)
model = dict(
    type="BEVFusion",
    data_preprocessor=data_preprocessor,
    encoders=dict(lidar=lidar_encoder),
    decoder=decoder,
    heads=dict(object=object_head),
)
