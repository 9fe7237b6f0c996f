# ResNetV1d-50 (He et al., "Bag of Tricks", CVPR 2019): deep stem + average-pool shortcuts.
_base_ = './resnet50_8xb32_in1k.py'
model = dict(backbone=dict(type='mmresfam.ResNetV1d'))
