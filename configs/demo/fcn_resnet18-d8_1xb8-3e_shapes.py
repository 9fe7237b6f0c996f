# FCN on mmresfam's dilated ResNet-18 (output stride 8: strides (1, 2, 1, 1), dilations
# (1, 1, 2, 4), as mmseg's ResNetV1c-D8) trained from scratch on the generated shapes data
# (`make demo-seg`): 96-px images, a 128-channel head, no auxiliary head.
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py', '../_base_/datasets/shapes_seg.py',
    'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(
        _delete_=True,
        type='mmresfam.ResNet',
        depth=18,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),
    decode_head=dict(in_channels=512, in_index=0, channels=128, num_classes=4,
                     norm_cfg=norm_cfg),
    auxiliary_head=None)

max_epochs = 3
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', power=0.9, eta_min=1e-4, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='mmresfam.SafeCheckpointHook', by_epoch=True, interval=1,
                    max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
custom_hooks = [dict(type='mmresfam.TrainingCurveHook')]
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo', timeout=300))
log_processor = dict(by_epoch=True, window_size=25)
randomness = dict(seed=0)
