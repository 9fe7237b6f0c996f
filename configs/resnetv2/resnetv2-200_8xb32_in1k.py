# Pre-activation ResNetV2-200 (He et al., ECCV 2016): the depth the paper reports on ImageNet,
# with the original fb.resnet.torch conv-BN-ReLU stem (stem_norm=True).
_base_ = './resnetv2-50_8xb32_in1k.py'
model = dict(backbone=dict(depth=200, stem_norm=True))
