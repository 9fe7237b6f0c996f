# Faster R-CNN + FPN, 1x COCO, with mmresfam's SE-ResNet-50 (Hu et al., 2018).
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/seresnet50_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.SEResNet',
        depth=50,
        se_ratio=16,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
