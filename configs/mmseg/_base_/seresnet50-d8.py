# The dilated (output stride 8) seresnet50-d8 backbone of the mmseg configs of this folder:
# ./mmresfam_d8.py plus what differs.
_base_ = './mmresfam_d8.py'

pretrained_ckpt = 'checkpoints/seresnet50_8xb32_in1k.pth'
d8_model = dict(
    backbone=dict(
        type='mmresfam.SEResNet',
        depth=50,
        se_ratio=16,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
