# Faster R-CNN + FPN, 1x COCO, with mmresfam's SE-ResNeXt-50 32x4d (Hu et al., 2018).
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/seresnext50-32x4d_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.SEResNeXt',
        depth=50,
        groups=32,
        width_per_group=4,
        se_ratio=16,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
