# A2 (DoubleAttention) on a ResNet-18 layout at 1/4 width (stem 16, stages 16/32/64/128
# channels), on the built-in digits demo data: the CBAM demo's network with A2 as the plugin
# instead, in the last two stages only, as the A2-Nets paper recommends.
# Basic blocks have no conv3: the module sits after the second conv's norm ('after_conv2'),
# i.e. at the end of the residual branch, before the addition.
_base_ = ['./cbam-resnet18_1xb32_digits.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg=dict(type='mmresfam.DoubleAttention'), stages=(False, False, True, True),
             position='after_conv2'),
    ]))
