# A small ResNeSt (Zhang et al., 2020) on the built-in digits demo data, CPU-sized: the
# resnest14d layout (one split-attention bottleneck per stage, radix 2, avd, deep stem,
# avg-down shortcuts) at half width (base_channels=32, stem 16-16-32) for 32x32 images.
_base_ = '../_base_/digits_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.ResNeSt', depth=14, stem_channels=32, base_channels=32, radix=2,
        reduction_factor=4, out_indices=(3, )),
    head=dict(in_channels=1024))
