# The dilated (output stride 8) resnetv2-50-d8 backbone of the mmseg configs of this folder:
# ./mmresfam_d8.py plus what differs.
_base_ = './mmresfam_d8.py'

pretrained_ckpt = 'checkpoints/resnetv2-50_8xb32_in1k.pth'
d8_model = dict(
    backbone=dict(
        type='mmresfam.ResNetV2',
        depth=50,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
