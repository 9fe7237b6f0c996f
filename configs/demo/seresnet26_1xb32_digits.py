# SE-ResNet-26 (mmresfam.SEResNet; depth 26 = two bottlenecks per stage) at quarter width
# (base_channels=16), small enough for a CPU epoch, on the built-in digits demo data.
_base_ = '../_base_/digits_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.SEResNet', depth=26, se_ratio=16, base_channels=16, stem_channels=16,
        out_indices=(3, )))
