# The dilated (output stride 8) cbam-resnet50-d8 backbone of the mmseg configs of this folder:
# ./mmresfam_d8.py plus what differs.
_base_ = './mmresfam_d8.py'

pretrained_ckpt = 'checkpoints/cbam-resnet50_8xb32_in1k.pth'
d8_model = dict(
    backbone=dict(
        type='mmresfam.ResNet',
        depth=50,
        plugins=[
            dict(cfg=dict(type='mmresfam.CBAM', reduction=16, spatial_kernel=7),
                 stages=(True, True, True, True), position='after_conv3'),
        ],
        init_cfg=dict(checkpoint=pretrained_ckpt)))
