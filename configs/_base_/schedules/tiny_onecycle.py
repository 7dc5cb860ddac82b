# The tiny synthetic configs' schedule: iteration-based, so a run fits a wall-clock budget on a CPU
# (tools/benchmark.py learn and `make demo` rescale every begin/end/T_max by the same factor for their budgets).
# The shape is BEVFusion's cyclic schedule (lr up 10x over 40 %, then down to 1e-4 of the start, AdamW beta1 down
# and back), the same optimizer, weight decay and gradient clipping; the base lr is 4x the paper's, for a small
# model trained from scratch in minutes.
lr = 4e-4
max_iters = 2000
up_iters = int(0.4 * max_iters)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=lr, weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
)
param_scheduler = [
    dict(type="CosineAnnealingLR", T_max=up_iters, eta_min=lr * 10, begin=0, end=up_iters, by_epoch=False),
    dict(
        type="CosineAnnealingLR",
        T_max=max_iters - up_iters,
        eta_min=lr * 1e-4,
        begin=up_iters,
        end=max_iters,
        by_epoch=False,
    ),
    dict(
        type="CosineAnnealingMomentum",
        T_max=up_iters,
        eta_min_ratio=0.85 / 0.95,
        begin=0,
        end=up_iters,
        by_epoch=False,
    ),
    dict(
        type="CosineAnnealingMomentum",
        T_max=max_iters - up_iters,
        eta_min_ratio=1.0,
        begin=up_iters,
        end=max_iters,
        by_epoch=False,
    ),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=2)
