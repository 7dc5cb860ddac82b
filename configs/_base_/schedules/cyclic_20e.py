# BEVFusion's LiDAR-only schedule: AdamW, one cycle over 20 epochs (MIT HAN Lab bevfusion
# configs/nuscenes/det/transfusion/secfpn/default.yaml: optimizer, grad_clip, lr_config/momentum_config 'cyclic',
# whose mmcv defaults are target_ratio (10, 1e-4) for lr, (0.85/0.95, 1) for momentum, step_ratio_up 0.4).
# Momentum (AdamW's beta1) follows mmcv's ratios relative to its base value (eta_min_ratio); mmdetection3d's
# cyclic-20e uses the ratios as absolute values, which drives beta1 to 1.0 at the end of training.
lr = 1e-4
max_epochs = 20
up_epochs = 8  # 0.4 of the cycle
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=lr, weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
)
param_scheduler = [
    dict(
        type="CosineAnnealingLR",
        T_max=up_epochs,
        eta_min=lr * 10,
        begin=0,
        end=up_epochs,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
    dict(
        type="CosineAnnealingLR",
        T_max=max_epochs - up_epochs,
        eta_min=lr * 1e-4,
        begin=up_epochs,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
    dict(
        type="CosineAnnealingMomentum",
        T_max=up_epochs,
        eta_min_ratio=0.85 / 0.95,
        begin=0,
        end=up_epochs,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
    dict(
        type="CosineAnnealingMomentum",
        T_max=max_epochs - up_epochs,
        eta_min_ratio=1.0,
        begin=up_epochs,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=32)  # 8 GPUs x 4 samples (configs/nuscenes/default.yaml)
