# ResNeSt-50 on ImageNet-1k (the recipe lives in configs/resnest/resnest50_8xb32_in1k.py).
_base_ = ['./resnest/resnest50_8xb32_in1k.py']
