# SCNet-50 (Liu et al., CVPR 2020): ResNet-50 with self-calibrated bottlenecks (pooling_r=4).
# Our backbone is 'mmresfam.SCNet' (mmdet's 'SCNet' is an unrelated detector).
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(backbone=dict(type='mmresfam.SCNet', depth=50, out_indices=(3, )))
