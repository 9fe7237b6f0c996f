# SKNet-101 (Li et al., CVPR 2019): ResNeXt-101 32x4d with SK units, M=2, G=32, r=16, L=32.
_base_ = './sknet50_8xb32_in1k.py'
model = dict(backbone=dict(depth=101))
