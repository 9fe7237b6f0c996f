# SGE-ResNet-50 (Li et al., 2019): Spatial Group-wise Enhance with 64 groups after the last
# norm of every bottleneck's residual branch, as in the paper (2 x 64 extra parameters a block).
_base_ = './resnet50_8xb32_in1k.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='mmresfam.SGE', groups=64), stages=(True, True, True, True),
             position='after_conv3'),
    ]))
