# Cascade R-CNN + FPN, 1x COCO, with mmresfam's ResNeSt-50 (mmdet's ResNeSt recipe, as in the
# ResNeSt paper's detection experiments); only the backbone is replaced.
_base_ = ['mmdet::resnest/cascade-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py',
          './_base_/resnest-s50_fpn.py']
model = {{_base_.fpn_model}}
