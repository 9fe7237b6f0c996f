# Faster R-CNN + FPN with mmresfam's ResNeSt-50 (mmdet's ResNeSt recipe) and deformable convs
# (Dai et al., 2017) in stages 3-5 (c3-c5): the split-attention conv of those stages is
# deformable, as in mmdet's ResNeSt with `dcn`.
_base_ = './faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py'
model = dict(
    backbone=dict(
        dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)))
