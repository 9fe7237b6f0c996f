# Pre-activation ResNetV2-18 (He et al., ECCV 2016, basic units) in timm's resnetv2_18
# layout (norm-free stem, BN): convert timm weights with
# tools/model_converters/timm_resnetv2_to_mmresfam.py.
_base_ = './resnetv2-50_8xb32_in1k.py'
model = dict(backbone=dict(depth=18), head=dict(in_channels=512))
