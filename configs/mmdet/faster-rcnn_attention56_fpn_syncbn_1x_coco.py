# Faster R-CNN + FPN, 1x COCO, with mmresfam's Residual Attention Network-56 (Wang et al., 2017).
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/attention56_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.ResidualAttentionNet',
        arch='attention56',
        p=1,
        t=2,
        r=1,
        attention_type='mixed',
        init_cfg=dict(checkpoint=pretrained_ckpt)))
