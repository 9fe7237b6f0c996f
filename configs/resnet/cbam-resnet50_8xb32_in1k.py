# CBAM-ResNet-50 (Woo et al., ECCV 2018): a CBAM (r=16, 7x7 spatial conv) after the last norm of
# every bottleneck's residual branch, before the addition, as in the paper.
_base_ = './resnet50_8xb32_in1k.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='mmresfam.CBAM', reduction=16, spatial_kernel=7),
             stages=(True, True, True, True), position='after_conv3'),
    ]))
