# ResNeXt-50 32x4d (Xie et al., CVPR 2017), mmpretrain's recipe: SGD 0.1, 100 epochs.
# Same structure as timm resnext50_32x4d.
# Convert timm weights with tools/model_converters/timm_resnet_to_mmresfam.py.
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.ResNeXt',
        depth=50,
        groups=32,
        width_per_group=4,
        out_indices=(3, ),
    ))
