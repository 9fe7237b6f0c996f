# ResNeSt-269 on ImageNet-1k (the recipe lives in configs/resnest/resnest269_8xb32_in1k.py).
_base_ = ['./resnest/resnest269_8xb32_in1k.py']
