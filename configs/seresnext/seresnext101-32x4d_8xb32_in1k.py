# SE-ResNeXt-101 32x4d (Hu et al., CVPR 2018), mmpretrain's recipe: SGD 0.1, 100 epochs.
# Same structure as timm seresnext101_32x4d.
# Convert timm weights with tools/model_converters/timm_resnet_to_mmresfam.py.
_base_ = './seresnext50-32x4d_8xb32_in1k.py'
model = dict(backbone=dict(depth=101))
