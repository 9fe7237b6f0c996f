# ResNeSt-269 on ImageNet-1k: the ResNeSt-200 recipe with depth 269 and 416 px crops for
# training and testing (the paper's size; bicubic evaluation resizing as for ResNeSt-200).
_base_ = ['./resnest200_8xb32_in1k.py']

model = dict(backbone=dict(depth=269))

_base_.train_pipeline[2].scale = 416
_base_.test_pipeline[1].crop_size = 416
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
