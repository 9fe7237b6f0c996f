# scSE-ResNet-50: concurrent spatial and channel SE (Roy et al., MICCAI 2018; proposed for
# segmentation networks) after the last norm of every bottleneck's residual branch, where SE
# sits in SE-ResNet. No ImageNet result is published for this layout.
_base_ = './resnet50_8xb32_in1k.py'
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='mmresfam.scSE', reduction=16), stages=(True, True, True, True),
             position='after_conv3'),
    ]))
