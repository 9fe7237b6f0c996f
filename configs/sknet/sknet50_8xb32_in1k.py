# SKNet-50 (Li et al., CVPR 2019): ResNeXt-50 32x4d with SK units, M=2, G=32, r=16, L=32.
# Same structure as timm skresnext50_32x4d (convert its weights with
# tools/model_converters/timm_sknet_to_mmresfam.py).
_base_ = '../_base_/imagenet_classifier_recipe.py'
model = dict(backbone=dict(type='mmresfam.SKNet', depth=50, out_indices=(3, )))
