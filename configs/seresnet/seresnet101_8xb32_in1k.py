# SE-ResNet-101 (Hu et al., CVPR 2018), mmpretrain's recipe: SGD 0.1, 140 epochs.
_base_ = './seresnet50_8xb32_in1k.py'
model = dict(backbone=dict(depth=101))
