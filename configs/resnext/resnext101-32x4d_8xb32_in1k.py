# ResNeXt-101 32x4d (Xie et al., CVPR 2017), mmpretrain's recipe: SGD 0.1, 100 epochs.
_base_ = './resnext50-32x4d_8xb32_in1k.py'
model = dict(backbone=dict(depth=101))
