# mmresfam's ResNeSt-50 (Zhang et al., 2020) for mmdet's own ResNeSt recipes (SyncBN in the
# backbone and the heads, norm_eval=False, multi-scale training, ResNeSt image normalisation):
# `model = {{_base_.fpn_model}}` in a config that also inherits one of them.
_base_ = './mmresfam_fpn.py'

# A classification checkpoint of the same backbone: written by tools/train.py with
# configs/resnest/resnest50_8xb32_in1k.py, or converted with tools/model_converters/.
pretrained_ckpt = 'checkpoints/resnest50_8xb32_in1k.pth'
fpn_model = dict(
    backbone=dict(
        type='mmresfam.ResNeSt',
        depth=50,
        stem_channels=64,
        radix=2,
        reduction_factor=4,
        avd=True,
        avd_first=False,
        norm_eval=False,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
