# The detection demo with its ResNet-18 backbone initialised from the digits classifier that
# `make demo` trains (configs/demo/resnet18_1xb32_digits.py, written by tools/train.py; its keys
# start with 'backbone.', which `prefix` strips). Everything else is the from-scratch demo's, so
# the two runs compare initialisations (README, "Detection and segmentation demos").
_base_ = './faster-rcnn_resnet18_fpn_1xb8-4e_shapes.py'
pretrained_ckpt = 'work_dirs/demo/resnet18_1xb32_digits/epoch_8.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained_ckpt,
                                prefix='backbone.')))
