# ResNetV1c-50 (He et al., "Bag of Tricks", CVPR 2019): ResNet-50 with the deep 3x3 stem.
_base_ = './resnet50_8xb32_in1k.py'
model = dict(backbone=dict(type='mmresfam.ResNetV1c'))
