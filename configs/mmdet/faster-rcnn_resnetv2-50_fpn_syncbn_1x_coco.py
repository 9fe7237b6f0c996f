# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNetV2-50 (pre-activation; He et al., 2016).
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/resnetv2-50_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.ResNetV2',
        depth=50,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
