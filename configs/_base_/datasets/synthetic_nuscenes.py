# The synthetic nuScenes set (tools/create_synthetic_nuscenes.py, then tools/create_data.py nuscenes
# --root-path data/synthetic --version v1.0-mini): the nuScenes pipeline at a quarter of the image size,
# with fewer sweeps, so the tiny configs train on a 2-core CPU.
_base_ = ["./nuscenes.py"]

data_root = "data/synthetic/"
image_size = [128, 352]
sweeps_num = 4
point_cloud_range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
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

db_sampler = dict(
    type="ObjectSample",
    db_info_path="nuscenes_dbinfos_train.pkl",
    data_root=data_root,
    classes=class_names,
    sample_groups=dict(
        car=2,
        truck=2,
        construction_vehicle=2,
        bus=2,
        trailer=2,
        barrier=2,
        motorcycle=2,
        bicycle=2,
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
        resize_lim=[0.22, 0.3],
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
        resize_lim=[0.24, 0.24],
        bot_pct_lim=[0.0, 0.0],
        rot_lim=[0.0, 0.0],
        rand_flip=False,
        is_train=False,
    ),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="Pack3DDetInputs"),
]

train_dataloader = dict(
    batch_size=2, num_workers=2, dataset=dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
)
val_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
