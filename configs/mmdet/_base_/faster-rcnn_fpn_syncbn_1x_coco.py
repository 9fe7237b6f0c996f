# Faster R-CNN + FPN, 1x COCO: mmdet's standard 1x recipe (frozen stem + stage 1, BN statistics
# frozen with norm_eval=True as in mmdet's ResNet/ResNeXt configs, SyncBN for the affine
# parameters) with the backbone slot of ./mmresfam_fpn.py. A config sets `pretrained_ckpt` and
# `model.backbone` (type, its arguments, init_cfg=dict(checkpoint=pretrained_ckpt)).
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', './mmresfam_fpn.py']
model = {{_base_.fpn_model}}
