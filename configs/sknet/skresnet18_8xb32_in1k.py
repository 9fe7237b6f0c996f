# SK-ResNet-18 in timm's layout (skresnet18: SK unit on the first 3x3 of each basic block,
# input split across the 2 branches, r=8, L=16); timm weights convert with
# tools/model_converters/timm_sknet_to_mmresfam.py.
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.SKNet', depth=18, reduction=8, min_channels=16, split_input=True,
        out_indices=(3, )),
    head=dict(in_channels=512))
