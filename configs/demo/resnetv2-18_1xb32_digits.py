# Pre-activation ResNetV2-18 (mmresfam.ResNetV2, timm layout) on the built-in digits demo data:
# the ResNet-18 demo with the pre-activation backbone.
_base_ = ['./resnet18_1xb32_digits.py']
model = dict(backbone=dict(type='mmresfam.ResNetV2'))
