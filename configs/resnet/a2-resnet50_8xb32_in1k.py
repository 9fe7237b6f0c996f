# A2-ResNet-50 (Chen et al., NeurIPS 2018): double-attention blocks only in the last stages.
# The A2 block is residual (x + Z) and zero-initialised, so the network starts as ResNet-50.
# Placement: in every bottleneck of stages 3 and 4, on the bottleneck's mid width
# (after_conv2: 256 / 512 channels, c_m = c_n = 64 / 128), which keeps the extra cost small;
# see README.md for the measured cost and why this is not exactly the paper's layout.
_base_ = './resnet50_8xb32_in1k.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='mmresfam.DoubleAttention'), stages=(False, False, True, True),
             position='after_conv2'),
    ]))
