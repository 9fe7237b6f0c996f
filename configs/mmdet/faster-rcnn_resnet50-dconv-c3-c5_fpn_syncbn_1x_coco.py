# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNet-50 and deformable convs (Dai et al., 2017)
# in stages 3-5 (c3-c5), as mmdet's configs/dcn/faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py.
_base_ = './faster-rcnn_resnet50_fpn_syncbn_1x_coco.py'
model = dict(
    backbone=dict(
        dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)))
