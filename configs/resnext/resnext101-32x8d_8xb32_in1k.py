# ResNeXt-101 32x8d (Xie et al., CVPR 2017), mmpretrain's recipe: SGD 0.1, 100 epochs.
# Same structure as timm/torchvision resnext101_32x8d.
# Convert timm weights with tools/model_converters/timm_resnet_to_mmresfam.py.
_base_ = './resnext101-32x4d_8xb32_in1k.py'
model = dict(backbone=dict(width_per_group=8))
