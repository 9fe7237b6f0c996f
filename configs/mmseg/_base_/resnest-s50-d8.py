# The dilated (output stride 8) resnest-s50-d8 backbone of the mmseg configs of this folder:
# ./mmresfam_d8.py plus what differs.
_base_ = './mmresfam_d8.py'

pretrained_ckpt = 'checkpoints/resnest50_8xb32_in1k.pth'
d8_model = dict(
    backbone=dict(
        type='mmresfam.ResNeSt',
        depth=50,
        stem_channels=64,
        radix=2,
        reduction_factor=4,
        avd=True,
        avd_first=False,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
