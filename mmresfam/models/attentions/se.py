"""Squeeze-and-Excitation (Hu, Shen and Sun, CVPR 2018, "Squeeze-and-Excitation Networks").

SE re-weights the channels of a feature map: global average pooling **squeezes** each channel
to one number, a bottleneck of two 1x1 convs (``C -> C / r -> C``, ReLU in between) and a gate
(sigmoid) turn those numbers into per-channel weights in ``(0, 1)``, and the input is
multiplied by them (**excitation**).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.models.utils import make_divisible

from mmresfam.registry import MODELS
from ..utils import check_channels, check_choice, check_int_range
from .base import conv_module_forward, reduction_arg

__all__ = ['SE', 'SE_GATES']

# gate name -> module class
SE_GATES = {
    'sigmoid': nn.Sigmoid,
    'hsigmoid': nn.Hardsigmoid,  # relu6(x + 3) / 6, the "hard sigmoid" of MobileNetV3
}


@MODELS.register_module()
class SE(BaseModule):
    """Squeeze-and-Excitation channel attention; keeps the input shape.

    Paper: Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv 1709.01507).

    ``out = x * gate(conv2(act(conv1(mean_hw(x)))))`` with 1x1 convs ``conv1: C -> S`` and
    ``conv2: S -> C``. The squeezed width is ``S = make_divisible(C // reduction, divisor)``
    (mmpretrain's rule; timm's ``SEModule`` gives the same width for the usual power-of-two
    channel counts) unless ``squeeze_channels`` is given.

    The parameters are ``conv1.conv.{weight,bias}`` and ``conv2.conv.{weight,bias}``, the keys of
    mmpretrain's ``SELayer``, so its weights load one-to-one (timm's ``SEModule`` ``fc1``/``fc2``
    map onto ``conv1.conv``/``conv2.conv``). It stands in for ``SELayer``, so ``SELayer``'s name
    for the reduction ratio, ``ratio``, is accepted too (give one of the two). With
    ``in_channels`` as first argument it also works as an MMDetection-style ResNet ``plugin``.

    Args:
        in_channels (int): Input (= output) channels ``C``.
        reduction (int, optional): Reduction ratio ``r``, in ``[1, in_channels]``.
            Default: None, i.e. 16.
        squeeze_channels (int, optional): Squeezed width ``S``; overrides ``reduction`` and
            ``divisor``. Default: None.
        divisor (int): ``S`` is rounded to a multiple of this. Default: 8.
        gate (str): Gate after ``conv2``: ``'sigmoid'`` (paper) or ``'hsigmoid'``
            (``relu6(x + 3) / 6``). Default: ``'sigmoid'``.
        bias (bool): Whether the two 1x1 convs have a bias. Default: True.
        act_cfg (dict): Activation between the two convs. Default: ``dict(type='ReLU')``.
        conv_cfg (dict, optional): Conv config of the two 1x1 convs. Default: None.
        init_cfg (dict, optional): Initialisation config. Default: None.
        ratio (int, optional): MMPreTrain ``SELayer``'s name for ``reduction``; give at most
            one of the two. Default: None.
    """

    _abbr_ = 'se'

    def __init__(self,
                 in_channels: int,
                 reduction: Optional[int] = None,
                 squeeze_channels: Optional[int] = None,
                 divisor: int = 8,
                 gate: str = 'sigmoid',
                 bias: bool = True,
                 act_cfg: dict = dict(type='ReLU'),
                 conv_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 ratio: Optional[int] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        check_int_range('in_channels', in_channels, 1, owner=owner)
        reduction = reduction_arg(owner, reduction, 16, 'ratio', ratio, high=in_channels)
        check_int_range('divisor', divisor, 1, owner=owner)
        check_choice('gate', gate, SE_GATES, owner)
        if squeeze_channels is None:
            squeeze_channels = make_divisible(in_channels // reduction, divisor)
        else:
            check_int_range('squeeze_channels', squeeze_channels, 1, owner=owner)
        self.in_channels = in_channels
        self.squeeze_channels = squeeze_channels
        self.gate = gate
        self.conv1 = ConvModule(in_channels, squeeze_channels, 1, bias=bias, conv_cfg=conv_cfg,
                                act_cfg=act_cfg)
        self.conv2 = ConvModule(squeeze_channels, in_channels, 1, bias=bias, conv_cfg=conv_cfg,
                                act_cfg=None)
        self.gate_fn = SE_GATES[gate]()

    def channel_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel gate values, shape ``(B, C, 1, 1)``."""
        check_channels(x.shape[1], self.in_channels, type(self).__name__)
        squeezed = x.mean(dim=(2, 3), keepdim=True)
        return self.gate_fn(conv_module_forward(self.conv2,
                                                conv_module_forward(self.conv1, squeezed)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.channel_weights(x)
