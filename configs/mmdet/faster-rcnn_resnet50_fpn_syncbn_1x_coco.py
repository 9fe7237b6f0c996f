# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNet-50 (He et al., 2016).
# mmdet's standard 1x recipe (frozen stem + stage 1, BN statistics frozen with norm_eval=True as
# in mmdet's ResNet configs, SyncBN for the affine parameters); only the backbone is replaced.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

# A classification checkpoint of the same backbone written by tools/train.py (keys start with
# 'backbone.'; `prefix` strips them).
pretrained_ckpt = 'checkpoints/resnet50_8xb32_in1k.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,  # drop the keys of mmdet's ResNet (style, num_stages, ...)
        type='mmresfam.ResNet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=norm_cfg,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_ckpt, prefix='backbone.')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
