# Pre-activation ResNetV2-101 (He et al., ECCV 2016) in timm's resnetv2_101 layout (norm-free
# stem, BN): convert timm weights with tools/model_converters/timm_resnetv2_to_mmresfam.py.
_base_ = './resnetv2-50_8xb32_in1k.py'
model = dict(backbone=dict(depth=101))
