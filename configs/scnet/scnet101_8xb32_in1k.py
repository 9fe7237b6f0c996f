# SCNet-101 (Liu et al., CVPR 2020): ResNet-101 with self-calibrated bottlenecks (pooling_r=4).
_base_ = './scnet50_8xb32_in1k.py'
model = dict(backbone=dict(depth=101))
