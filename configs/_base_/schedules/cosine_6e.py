# BEVFusion's camera+LiDAR schedule (MIT HAN Lab bevfusion
# configs/nuscenes/det/transfusion/secfpn/camera+lidar/default.yaml: lr 2e-4, max_epochs 6;
# .../swint_v0p075/default.yaml: CosineAnnealing, linear warm-up 500 iterations from 1/3, min_lr_ratio 1e-3).
lr = 2e-4
max_epochs = 6
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=lr, weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.33333333, by_epoch=False, begin=0, end=500),
    dict(
        type="CosineAnnealingLR",
        T_max=max_epochs,
        eta_min=lr * 1e-3,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=32)
