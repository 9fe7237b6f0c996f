# A small SCNet (mmresfam.SCNet, depth 26: two self-calibrated bottlenecks per stage, half
# quarter width) on the built-in digits demo data, CPU-sized.
_base_ = '../_base_/digits_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.SCNet', depth=26, base_channels=16, stem_channels=16,
        out_indices=(3, )))
