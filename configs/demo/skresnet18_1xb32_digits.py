# SK-ResNet-18 (mmresfam.SKNet, timm's skresnet18 layout) at half width (base_channels=32, so
# one CPU epoch stays short) on the built-in digits demo data.
_base_ = '../_base_/digits_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.SKNet', depth=18, reduction=8, min_channels=16, split_input=True,
        base_channels=32, stem_channels=32, out_indices=(3, )),
    head=dict(in_channels=256))
