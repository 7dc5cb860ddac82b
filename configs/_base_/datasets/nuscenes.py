# nuScenes 3D detection data: BEVFusion's camera + LiDAR pipeline (10 LiDAR frames, 6 cameras at 256x704).
# The model's data preprocessor voxelizes with the same point_cloud_range and voxel_size, e.g.
#   dict(type='BEVFusionDataPreprocessor', voxelize=dict(mode='hard', voxel_size=voxel_size,
#        point_cloud_range=point_cloud_range, max_num_points=10, max_voxels=(120000, 160000)))
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
point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
voxel_size = [0.075, 0.075, 0.2]
image_size = [256, 704]
sweeps_num = 9  # plus the key frame: 10 LiDAR frames per sample

db_sampler = dict(
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
    min_points=dict(
        car=5,
        truck=5,
        construction_vehicle=5,
        bus=5,
        trailer=5,
        barrier=5,
        motorcycle=5,
        bicycle=5,
        pedestrian=5,
        traffic_cone=5,
    ),
)

train_pipeline = [
    dict(type="LoadMultiViewImageFromFiles"),
    dict(type="LoadPointsFromFile", load_dim=5, use_dim=5),
    dict(type="LoadPointsFromMultiSweeps", sweeps_num=sweeps_num, load_dim=5, use_dim=[0, 1, 2, 3, 4]),
    db_sampler,
    dict(
        type="ImageAug3D",
        final_dim=image_size,
        resize_lim=[0.38, 0.55],
        bot_pct_lim=[0.0, 0.0],
        rot_lim=[-5.4, 5.4],
        rand_flip=True,
        is_train=True,
    ),
    dict(
        type="GlobalRotScaleTrans",
        rot_range=[-0.78539816, 0.78539816],
        scale_ratio_range=[0.9, 1.1],
        translation_std=[0.5, 0.5, 0.5],
    ),
    dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5, flip_ratio_bev_vertical=0.5),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectNameFilter", classes=class_names),
    dict(type="PointShuffle"),
    dict(type="Pack3DDetInputs"),
]
test_pipeline = [
    dict(type="LoadMultiViewImageFromFiles"),
    dict(type="LoadPointsFromFile", load_dim=5, use_dim=5),
    dict(type="LoadPointsFromMultiSweeps", sweeps_num=sweeps_num, load_dim=5, use_dim=[0, 1, 2, 3, 4], test_mode=True),
    dict(
        type="ImageAug3D",
        final_dim=image_size,
        resize_lim=[0.48, 0.48],
        bot_pct_lim=[0.0, 0.0],
        rot_lim=[0.0, 0.0],
        rand_flip=False,
        is_train=False,
    ),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="Pack3DDetInputs"),
]

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
            pipeline=train_pipeline,
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
        pipeline=test_pipeline,
        metainfo=metainfo,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
