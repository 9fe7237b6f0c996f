# Faster R-CNN + FPN, 1x COCO, with mmresfam's SCNet-50 (self-calibrated convolutions;
# Liu et al., 2020).
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/scnet50_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.SCNet',
        depth=50,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
