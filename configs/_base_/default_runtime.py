# mmengine runtime shared by every config. tools/train.py and tools/test.py build `runner_type` (BEVFusionRunner:
# gloo and CPU DDP without a GPU, weights_only checkpoints whose keys must fit the model).
default_scope = "bevfusion"
runner_type = "BEVFusionRunner"
default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50),  # each line shows the ETA
    param_scheduler=dict(type="ParamSchedulerHook"),
    # Atomic writes; also keeps the checkpoint with the best validation NDS.
    checkpoint=dict(
        type="AtomicCheckpointHook", interval=1, max_keep_ckpts=1, save_best="NuScenes metric/NDS", rule="greater"
    ),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    iteration_seed=dict(type="IterationSeedHook"),  # an iteration's random draws do not depend on a resume
    rank_average=dict(type="AverageOverRanksHook"),  # multi-process runs log the whole batch's losses
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),  # BEVFusionRunner uses gloo where no GPU is visible
)
vis_backends = [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends, name="visualizer")
log_processor = dict(type="LogProcessor", window_size=50, by_epoch=True)
log_level = "INFO"
load_from = None
load_from_missing_ok = []  # key prefixes a `load_from` checkpoint may lack (the parts that start fresh)
resume = False
randomness = dict(seed=0)
