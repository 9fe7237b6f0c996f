# Attention-92 for 32x32 inputs (mmresfam.ResidualAttentionNet, arch='attention92-cifar': 3x3
# stem without max-pool, 1/2/3 attention modules with 2/1/0 mask max-pool levels) on the built-in
# digits demo data. Widths reduced 8x for CPU (stem_channels=8, base_channels=4: stages of
# 16/32/64/128 channels instead of 128/256/512/1024).
_base_ = '../_base_/digits_classifier_recipe.py'
model = dict(
    backbone=dict(
        type='mmresfam.ResidualAttentionNet', arch='attention92-cifar', stem_channels=8,
        base_channels=4, out_indices=(3, )),
    head=dict(in_channels=128))
