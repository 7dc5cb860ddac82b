# nuScenes 3D detection data, as BEVFusion trains on it (10 LiDAR frames, 6 cameras at 256x704).
# Sources: MIT HAN Lab bevfusion configs/nuscenes/default.yaml (pipelines, augmentation, GT paste) and
# configs/nuscenes/det/transfusion/secfpn/lidar/voxelnet_0p075.yaml (range, voxel size).
# Model configs pick the pipelines of their modality: `lidar_*_pipeline` or `multimodal_*_pipeline`.
dataset_type = "NuScenesDataset"
data_root = "data/nuscenes/"
class_names = [
    "car",
    "truck",
    "construction_vehicle",
    "bus",
    "trailer",
    "barrier",
    "motorcycle",
    "bicycle",
    "pedestrian",
    "traffic_cone",
]
metainfo = dict(classes=class_names)
point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]  # voxelnet_0p075.yaml
voxel_size = [0.075, 0.075, 0.2]  # voxelnet_0p075.yaml
image_size = [256, 704]  # nuscenes/default.yaml
sweeps_num = 9  # plus the key frame: 10 LiDAR frames, in training and test (MIT's det/default.yaml loads 0 in training)

db_sampler = dict(  # nuscenes/default.yaml ObjectPaste
    type="ObjectSample",
    db_info_path="nuscenes_dbinfos_train.pkl",
    data_root=data_root,
    classes=class_names,
    sample_groups=dict(
        car=2,
        truck=3,
        construction_vehicle=7,
        bus=4,
        trailer=6,
        barrier=2,
        motorcycle=6,
        bicycle=6,
        pedestrian=2,
        traffic_cone=2,
    ),
    min_points={name: 5 for name in class_names},
)
load_images = dict(type="LoadMultiViewImageFromFiles")
load_points = dict(type="LoadPointsFromFile", load_dim=5, use_dim=5)
load_sweeps = dict(type="LoadPointsFromMultiSweeps", sweeps_num=sweeps_num, load_dim=5, use_dim=[0, 1, 2, 3, 4])
load_sweeps_test = dict(load_sweeps, test_mode=True)
image_aug_train = dict(  # nuscenes/default.yaml augment2d
    type="ImageAug3D",
    final_dim=image_size,
    resize_lim=[0.38, 0.55],
    bot_pct_lim=[0.0, 0.0],
    rot_lim=[-5.4, 5.4],
    rand_flip=True,
    is_train=True,
)
image_aug_test = dict(
    type="ImageAug3D",
    final_dim=image_size,
    resize_lim=[0.48, 0.48],
    bot_pct_lim=[0.0, 0.0],
    rot_lim=[0.0, 0.0],
    rand_flip=False,
    is_train=False,
)
global_aug = dict(  # nuscenes/default.yaml augment3d
    type="GlobalRotScaleTrans",
    rot_range=[-0.78539816, 0.78539816],
    scale_ratio_range=[0.9, 1.1],
    translation_std=[0.5, 0.5, 0.5],
)
random_flip = dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5)
points_range_filter = dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range)
object_filters = [
    dict(type="ObjectRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectNameFilter", classes=class_names),
]
point_shuffle = dict(type="PointShuffle")
pack = dict(type="Pack3DDetInputs")

# LiDAR-only: GT sampling on (a hook switches it off for the last epochs).
lidar_train_pipeline = [
    load_points,
    load_sweeps,
    db_sampler,
    global_aug,
    random_flip,
    points_range_filter,
    *object_filters,
    point_shuffle,
    pack,
]
lidar_test_pipeline = [load_points, load_sweeps_test, points_range_filter, pack]
# Camera and camera+LiDAR: no GT sampling (pasted objects would be missing from the images).
multimodal_train_pipeline = [
    load_images,
    load_points,
    load_sweeps,
    image_aug_train,
    global_aug,
    random_flip,
    points_range_filter,
    *object_filters,
    point_shuffle,
    pack,
]
multimodal_test_pipeline = [load_images, load_points, load_sweeps_test, image_aug_test, points_range_filter, pack]

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type="CBGSDataset",
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file="nuscenes_infos_train.pkl",
            pipeline=multimodal_train_pipeline,
            metainfo=metainfo,
            test_mode=False,
            use_valid_flag=True,
        ),
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="nuscenes_infos_val.pkl",
        pipeline=multimodal_test_pipeline,
        metainfo=metainfo,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="NuScenesMetric", data_root=data_root, version="v1.0-trainval", eval_set="val")
test_evaluator = val_evaluator
