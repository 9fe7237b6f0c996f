# SE-ResNeXt-50 32x4d (Hu et al., CVPR 2018), mmpretrain's recipe: SGD 0.1, 100 epochs:
# ResNeXt-50 32x4d (same recipe) with an SE module (r=16) in every bottleneck.
# Same structure as timm seresnext50_32x4d.
# Convert timm weights with tools/model_converters/timm_resnet_to_mmresfam.py.
_base_ = '../resnext/resnext50-32x4d_8xb32_in1k.py'
model = dict(backbone=dict(type='mmresfam.SEResNeXt', se_ratio=16))
