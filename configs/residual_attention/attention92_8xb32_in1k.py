# Attention-92 (Wang et al., "Residual Attention Network for Image Classification", CVPR 2017):
# p=1, t=2, r=1, mixed (sigmoid) attention, 224x224 input.
_base_ = './attention56_8xb32_in1k.py'
model = dict(backbone=dict(arch='attention92'))
