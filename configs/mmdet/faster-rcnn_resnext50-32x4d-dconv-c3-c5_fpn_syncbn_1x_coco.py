# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNeXt-50 32x4d and deformable convs (Dai et
# al., 2017) in stages 3-5 (c3-c5), as mmdet's configs/dcn/faster-rcnn_x101-32x4d-dconv-c3-c5_*.
_base_ = './faster-rcnn_resnext50-32x4d_fpn_syncbn_1x_coco.py'
model = dict(
    backbone=dict(
        dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)))
