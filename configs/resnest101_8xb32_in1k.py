# ResNeSt-101 on ImageNet-1k (the recipe lives in configs/resnest/resnest101_8xb32_in1k.py).
_base_ = ['./resnest/resnest101_8xb32_in1k.py']
