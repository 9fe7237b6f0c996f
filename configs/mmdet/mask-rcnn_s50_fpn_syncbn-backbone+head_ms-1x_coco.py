# Mask R-CNN + FPN, 1x COCO, with mmresfam's ResNeSt-50 (mmdet's ResNeSt recipe: SyncBN in the
# backbone, the 4conv1fc box head and the mask head, multi-scale training); only the backbone
# is replaced.
_base_ = ['mmdet::resnest/mask-rcnn_s50_fpn_syncbn-backbone+head_ms-1x_coco.py',
          './_base_/resnest-s50_fpn.py']
model = {{_base_.fpn_model}}
