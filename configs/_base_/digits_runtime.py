# Runtime for the CPU digits demos: the default runtime plus a progress display, a per-epoch
# loss/accuracy curve (curves.png in the work dir) and the best checkpoint by val top-1.
_base_ = ['./default_runtime.py']
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='mmresfam.SafeCheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='accuracy/top1', rule='greater'),
)
custom_hooks = [dict(type='mmresfam.TrainingCurveHook')]
# CPU runs: gloo, and a rank that hangs ends the job after 5 minutes instead of gloo's 30
# (--cfg-options env_cfg.dist_cfg.timeout=SECONDS)
env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=300))
