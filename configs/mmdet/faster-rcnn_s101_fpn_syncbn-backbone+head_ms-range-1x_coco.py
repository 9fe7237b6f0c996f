# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNeSt-101 (128-channel deep stem).
_base_ = './faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py'
pretrained_ckpt = 'checkpoints/resnest101_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        depth=101,
        stem_channels=128,
        init_cfg=dict(checkpoint=pretrained_ckpt)))
