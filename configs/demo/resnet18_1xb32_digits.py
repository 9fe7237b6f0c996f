# ResNet-18 (mmresfam.ResNet) on the built-in digits demo data, CPU-sized.
_base_ = '../_base_/digits_classifier_recipe.py'
model = dict(backbone=dict(type='mmresfam.ResNet', depth=18, out_indices=(3, )))
