# ResNeSt-200 on ImageNet-1k: the ResNeSt-101 recipe with depth 200 and 320 px crops for
# training and testing (the paper's size; the official evaluation switches to bicubic resizing
# from 320 px). Unlike MMPreTrain's resnest200 config, the pipelines are attached to the
# dataloaders.
_base_ = ['./resnest101_8xb32_in1k.py']

model = dict(backbone=dict(depth=200))

_base_.train_pipeline[2].scale = 320
_base_.test_pipeline[1].update(crop_size=320, interpolation='bicubic')
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
