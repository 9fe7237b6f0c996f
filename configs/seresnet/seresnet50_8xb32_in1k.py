# SE-ResNet-50 (Hu et al., CVPR 2018), mmpretrain's recipe: SGD 0.1, 140 epochs.
# Same structure as timm seresnet50.
# Convert timm weights with tools/model_converters/timm_resnet_to_mmresfam.py.
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.SEResNet',
        depth=50,
        se_ratio=16,
        out_indices=(3, ),
    ))
# SE-ResNets follow mmpretrain's 140-epoch step schedule (lr x0.1 at epochs 40, 80, 120).
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[40, 80, 120], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=140, val_interval=1)
