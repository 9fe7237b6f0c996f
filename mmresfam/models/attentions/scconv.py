"""Self-calibrated convolution (Liu et al., CVPR 2020, "Improving Convolutional Networks with
Self-Calibrated Convolutions").

The input is convolved at two scales: a down-sampled copy (average pooling by ``r``, conv,
BN) is brought back to the input resolution and, added to the input, gives a sigmoid
*calibration* gate. The gate multiplies a full-resolution conv of the input, and a last conv
(with the stride) + BN + ReLU produces the output::

    out = k4(k3(x) * sigmoid(x + up(k2(avgpool_r(x)))))
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmresfam.registry import MODELS
from ..utils import check_channels, check_choice, check_divisible, check_int_range
from .base import AttentionMapMixin, conv_module_forward

__all__ = ['SCConv']


@MODELS.register_module()
class SCConv(AttentionMapMixin, BaseModule):
    """Self-calibrated convolution: a drop-in replacement for a 3x3 conv-BN-ReLU.

    Paper: Liu, Hou, Cheng, Wang and Feng, "Improving Convolutional Networks with
    Self-Calibrated Convolutions", CVPR 2020. Reference code: MCG-NKU/SCNet ``SCConv``.

    * ``k2``: ``AvgPool(r)`` -> 3x3 conv -> BN (``in -> in`` channels);
    * ``k3``: 3x3 conv -> BN (``in -> in``);
    * ``k4``: 3x3 conv with ``stride`` -> BN -> activation (``in -> out``).

    ``up`` resizes ``k2``'s output to the *exact* input size (odd sizes included), with
    ``upsample_mode`` (``'nearest'`` as in the reference code). A feature map smaller than
    ``pooling_r`` is pooled with a kernel clipped to its size (a global average), so the module
    also runs on tiny inputs; for sizes >= ``pooling_r`` the pooling is the reference one
    (floor mode).

    Batch size 1 in training: a map smaller than ``2 * pooling_r`` (e.g. SCNet's last stage at
    224 px, 7 x 7 pooled by 4) is pooled to ``1 x 1``, where ``k2``'s BN sees one value per
    channel. ``k2`` goes through :func:`~mmresfam.models.attentions.attention_norm`: its BN
    then normalises with its running statistics (and does not update them) instead of raising
    "Expected more than 1 value per channel when training". ``k3``/``k4`` see the full map,
    like the backbone's own norms.

    With ``in_channels`` first and ``out_channels=None`` it keeps the input shape (stride 1),
    so it also works as a ResNet ``plugin``. Attention map
    (:class:`~mmresfam.models.attentions.AttentionMapMixin`): the calibration gate,
    ``(B, in_channels, H, W)``.

    Args:
        in_channels (int): Input channels.
        out_channels (int, optional): Output channels (of ``k4``). Default: None
            (= ``in_channels``).
        stride (int): Stride of ``k4``. Default: 1.
        pooling_r (int): Down-sampling rate ``r`` of the calibration branch (>= 1). Default: 4.
        groups (int): Groups of the three 3x3 convs. Default: 1.
        dilation (int): Dilation (and padding) of the three 3x3 convs. Default: 1.
        upsample_mode (str): ``'nearest'`` or ``'bilinear'``. Default: ``'nearest'``.
        conv_cfg (dict, optional): Conv config. Default: None.
        norm_cfg (dict): Norm config. Default: ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after ``k4`` (None for none).
            Default: ``dict(type='ReLU')``.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'scconv'

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 stride: int = 1,
                 pooling_r: int = 4,
                 groups: int = 1,
                 dilation: int = 1,
                 upsample_mode: str = 'nearest',
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        out_channels = in_channels if out_channels is None else out_channels
        check_int_range('in_channels', in_channels, 1, owner=owner)
        check_int_range('out_channels', out_channels, 1, owner=owner)
        check_int_range('stride', stride, 1, owner=owner)
        check_int_range('pooling_r', pooling_r, 1, owner=owner)
        check_int_range('groups', groups, 1, owner=owner)
        check_int_range('dilation', dilation, 1, owner=owner)
        check_divisible('in_channels', in_channels, groups, 'groups', owner)
        check_divisible('out_channels', out_channels, groups, 'groups', owner)
        check_choice('upsample_mode', upsample_mode, ('nearest', 'bilinear'), owner)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.pooling_r = pooling_r
        self.upsample_mode = upsample_mode

        def conv(cin, cout, s, act):
            return ConvModule(cin, cout, 3, stride=s, padding=dilation, dilation=dilation,
                              groups=groups, bias=False, conv_cfg=conv_cfg,
                              norm_cfg=norm_cfg, act_cfg=act)

        self.k2 = conv(in_channels, in_channels, 1, None)
        self.k3 = conv(in_channels, in_channels, 1, None)
        self.k4 = conv(in_channels, out_channels, stride, act_cfg)

    def calibration(self, x: torch.Tensor) -> torch.Tensor:
        """``sigmoid(x + up(k2(avgpool_r(x))))``, same shape as ``x``."""
        h, w = x.shape[-2:]
        kernel = (min(self.pooling_r, h), min(self.pooling_r, w))
        small = conv_module_forward(self.k2, F.avg_pool2d(x, kernel, kernel))
        align = None if self.upsample_mode == 'nearest' else False
        up = F.interpolate(small, size=(h, w), mode=self.upsample_mode, align_corners=align)
        return torch.sigmoid(x + up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x.shape[1], self.in_channels, type(self).__name__)
        gate = self.calibration(x)
        self._store_map(gate)
        return self.k4(self.k3(x) * gate)
