# Faster R-CNN + FPN, 1x COCO, with mmresfam's ResNeSt-50 (Zhang et al., 2020).
# mmdet's own ResNeSt recipe (SyncBN in the backbone and the 4conv1fc box head, norm_eval=False,
# multi-scale-range training, ResNeSt image normalisation); only the backbone is replaced.
_base_ = ['mmdet::resnest/faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py',
          './_base_/resnest-s50_fpn.py']
model = {{_base_.fpn_model}}
