# ResNet-50 (He et al., CVPR 2016) with mmresfam.ResNet: mmpretrain's resnet50_8xb32_in1k
# (same keys, mmpretrain's checkpoints load strictly), the base of the plugin configs here.
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(
    backbone=dict(type='mmresfam.ResNet', depth=50, num_stages=4, out_indices=(3, ),
                  style='pytorch'))
