# ResNeSt-101 on ImageNet-1k: the ResNeSt-50 recipe with depth 101, a 64-64-128 deep stem
# (official stem_width=64) and 256 px crops for training and testing (the paper's size).
_base_ = ['./resnest50_8xb32_in1k.py']

model = dict(backbone=dict(depth=101, stem_channels=128))

# the crop sizes of the inherited pipelines: EfficientNetRandomCrop, EfficientNetCenterCrop
_base_.train_pipeline[2].scale = 256
_base_.test_pipeline[1].crop_size = 256
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
