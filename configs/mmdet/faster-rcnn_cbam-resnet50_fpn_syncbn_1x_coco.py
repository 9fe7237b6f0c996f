# Faster R-CNN + FPN, 1x COCO, with mmresfam's CBAM-ResNet-50 (Woo et al., 2018): mmresfam.ResNet
# with CBAM (r=16, 7x7 spatial conv) after conv3, before the residual addition, in every block
# (as in the paper and configs/resnet/cbam-resnet50_8xb32_in1k.py), via `plugins`.
# mmdet's standard 1x recipe and the shared backbone settings: ./_base_/.
_base_ = './_base_/faster-rcnn_fpn_syncbn_1x_coco.py'

pretrained_ckpt = 'checkpoints/cbam-resnet50_8xb32_in1k.pth'
model = dict(
    backbone=dict(
        type='mmresfam.ResNet',
        depth=50,
        plugins=[
            dict(cfg=dict(type='mmresfam.CBAM', reduction=16, spatial_kernel=7),
                 stages=(True, True, True, True), position='after_conv3'),
        ],
        init_cfg=dict(checkpoint=pretrained_ckpt)))
