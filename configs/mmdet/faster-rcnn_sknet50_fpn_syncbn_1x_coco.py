# Faster R-CNN + FPN, 1x COCO, with mmresfam's SKNet-50 (selective kernels; Li et al., 2019).
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/sknet50_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.SKNet',
        depth=50,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
