# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNeSt-50 (Zhang et al., 2020).
# mmdet's own ResNeSt recipe (SyncBN in the backbone and the 4conv1fc box head, norm_eval=False,
# multi-scale-range training, ResNeSt image normalisation); only the backbone is replaced.
_base_ = 'mmdet::resnest/faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py'
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

# A classification checkpoint of the same backbone: written by tools/train.py with
# configs/resnest/resnest50_8xb32_in1k.py, or converted with tools/model_converters/.
# Its keys start with 'backbone.'; `prefix` strips them.
pretrained_ckpt = 'checkpoints/resnest50_8xb32_in1k.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,  # drop mmdet's ResNeSt keys (avg_down_stride, style, ...)
        type='mmresfam.ResNeSt',
        depth=50,
        stem_channels=64,
        radix=2,
        reduction_factor=4,
        avd=True,
        avd_first=False,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_ckpt, prefix='backbone.')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
