# Runtime settings in mmpretrain's style. Models are referenced as 'mmresfam.<Name>';
# everything else comes from mmpretrain (the default scope).
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, but a kill while saving leaves a resumable run (atomic
    # writes; outdated checkpoints deleted only after the new one is complete)
    checkpoint=dict(type='mmresfam.SafeCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
