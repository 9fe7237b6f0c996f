# ResNeSt-200 on ImageNet-1k (the recipe lives in configs/resnest/resnest200_8xb32_in1k.py).
_base_ = ['./resnest/resnest200_8xb32_in1k.py']
