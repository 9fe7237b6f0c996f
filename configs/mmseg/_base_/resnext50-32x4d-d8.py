# The dilated (output stride 8) resnext50-32x4d-d8 backbone of the mmseg configs of this folder:
# ./mmresfam_d8.py plus what differs.
_base_ = './mmresfam_d8.py'

pretrained_ckpt = 'checkpoints/resnext50-32x4d_8xb32_in1k.pth'
d8_model = dict(
    backbone=dict(
        type='mmresfam.ResNeXt',
        depth=50,
        groups=32,
        width_per_group=4,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
