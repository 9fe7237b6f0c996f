# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNeXt-50 32x4d (Xie et al., 2017).
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/resnext50-32x4d_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.ResNeXt',
        depth=50,
        groups=32,
        width_per_group=4,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
