# SK-ResNet-34 in timm's layout (skresnet34: SK unit on the first 3x3 of each basic block,
# input split across the 2 branches, r=8, L=16); timm weights convert with
# tools/model_converters/timm_sknet_to_mmresfam.py.
_base_ = './skresnet18_8xb32_in1k.py'
model = dict(backbone=dict(depth=34))
