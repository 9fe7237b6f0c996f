# CBAM on a ResNet-18 layout at 1/4 width (stem 16, stages 16/32/64/128 channels), on the
# built-in digits demo data: mmresfam.ResNet + plugins, small enough to train on a CPU.
# reduction 4 instead of the paper's 16: stage 1 has only 16 channels.
# Basic blocks have no conv3: the module sits after the second conv's norm ('after_conv2'),
# i.e. at the end of the residual branch, before the addition.
_base_ = ['./resnet18_1xb32_digits.py']
model = dict(
    backbone=dict(
        stem_channels=16,
        base_channels=16,
        plugins=[
            dict(cfg=dict(type='mmresfam.CBAM', reduction=4), stages=(True, True, True, True),
                 position='after_conv2'),
        ]),
    head=dict(in_channels=128))
