# SCNet-50_v1d (official MCG-NKU/SCNet model): SCNet-50 with the deep 3x3 stem, average-pool
# shortcut downsampling and average-pool downsampling after the 3x3 convs of strided blocks.
_base_ = './scnet50_8xb32_in1k.py'
model = dict(backbone=dict(deep_stem=True, avg_down=True, avd=True))
