# Pre-activation ResNetV2-50 (He et al., ECCV 2016) in timm's resnetv2_50 layout (norm-free
# stem, BN): convert timm weights with tools/model_converters/timm_resnetv2_to_mmresfam.py.
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(backbone=dict(type='mmresfam.ResNetV2', depth=50, out_indices=(3, )))
