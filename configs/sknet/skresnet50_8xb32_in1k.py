# SK-ResNet-50 in timm's layout (skresnet50): ResNet-50 bottlenecks (no cardinality) with SK
# units whose input is split across the 2 branches (r=16, L=8), i.e. SKNet-50 with groups=1.
# timm weights convert with tools/model_converters/timm_sknet_to_mmresfam.py.
_base_ = './sknet50_8xb32_in1k.py'
model = dict(
    backbone=dict(groups=1, width_per_group=64, split_input=True, min_channels=8))
