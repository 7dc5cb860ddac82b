# The synthetic nuScenes set (tools/create_synthetic_nuscenes.py, then tools/create_data.py nuscenes
# --root-path data/synthetic --version v1.0-mini): the nuScenes pipelines at a quarter of the image area and
# with fewer sweeps, so the tiny configs train on a 2-core CPU, over BEVFusion's 0.1 m-voxel range of +-51.2 m
# (MIT HAN Lab bevfusion configs/nuscenes/default.yaml). Only what differs from nuscenes.py is set here.
from mmengine.config import read_base

with read_base():
    from .nuscenes import *

data_root = "data/synthetic/"
image_size = [128, 352]
sweeps_num = 4
point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]

db_sampler = dict(db_sampler, data_root=data_root, sample_groups={name: 2 for name in class_names})
# The 4 most recent sweeps in training too (test_mode picks them): a random 4 of the 9 would give training
# time windows of up to 0.45 s where test sees 0.2 s, and the motion cues behind velocity would not transfer.
load_sweeps = dict(load_sweeps, sweeps_num=sweeps_num, test_mode=True)
load_sweeps_test = load_sweeps
image_aug_train = dict(image_aug_train, final_dim=image_size, resize_lim=[0.22, 0.3])
image_aug_test = dict(image_aug_test, final_dim=image_size, resize_lim=[0.24, 0.24])
points_range_filter = dict(points_range_filter, point_cloud_range=point_cloud_range)
object_filters = [dict(object_filters[0], point_cloud_range=point_cloud_range), object_filters[1]]

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
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type="CBGSDataset",
        dataset=dict(train_dataloader["dataset"]["dataset"], data_root=data_root, pipeline=multimodal_train_pipeline),
    ),
)
val_dataloader = dict(
    val_dataloader,
    num_workers=2,
    dataset=dict(val_dataloader["dataset"], data_root=data_root, pipeline=multimodal_test_pipeline),
)
test_dataloader = val_dataloader
# synthetic_val: the mini_val scenes plus every fifth extra scene (data/README.md); equal to mini_val for 10 scenes.
val_evaluator = dict(type="NuScenesMetric", data_root=data_root, version="v1.0-mini", eval_set="synthetic_val")
test_evaluator = val_evaluator
