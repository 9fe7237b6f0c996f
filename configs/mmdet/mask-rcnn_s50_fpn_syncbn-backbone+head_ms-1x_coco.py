# Mask R-CNN + FPN, 1x COCO, with mmresfam's ResNeSt-50 (mmdet's ResNeSt recipe: SyncBN in the
# backbone, the 4conv1fc box head and the mask head, multi-scale training); only the backbone
# is replaced.
_base_ = 'mmdet::resnest/mask-rcnn_s50_fpn_syncbn-backbone+head_ms-1x_coco.py'
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

pretrained_ckpt = 'checkpoints/resnest50_8xb32_in1k.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,
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
