# Attention-56 (Wang et al., "Residual Attention Network for Image Classification", CVPR 2017):
# p=1, t=2, r=1, mixed (sigmoid) attention, 224x224 input.
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.ResidualAttentionNet', arch='attention56', p=1, t=2, r=1,
        attention_type='mixed', out_indices=(3, )))
