# SE-ResNeXt-26 8x4d (mmresfam.SEResNeXt; depth 26 = two bottlenecks per stage) at quarter width
# (base_channels=16), small enough for a CPU epoch, on the built-in digits demo data: the
# ResNeXt-26 demo with an SE module (r=16) in every bottleneck.
_base_ = ['./resnext26-8x4d_1xb32_digits.py']
model = dict(backbone=dict(type='mmresfam.SEResNeXt', se_ratio=16))
