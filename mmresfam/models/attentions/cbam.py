"""CBAM (Woo, Park, Lee and Kweon, ECCV 2018, "CBAM: Convolutional Block Attention Module").

CBAM refines a feature map twice, in sequence: a **channel** gate computed from both the average-
and the max-pooled channel descriptors (one shared MLP for the two, outputs summed), then a
**spatial** gate computed by a ``k x k`` conv on the channel-wise mean and max maps.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmresfam.registry import MODELS
from ..utils import check_channels, check_int_range
from .base import AttentionMapMixin

__all__ = ['CBAM']


@MODELS.register_module()
class CBAM(AttentionMapMixin, BaseModule):
    """Convolutional Block Attention Module; keeps the input shape.

    Paper: Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018
    (arXiv 1807.06521).

    ``x' = x * sigmoid(mlp(avg_hw(x)) + mlp(max_hw(x)))`` (channel attention, the MLP is two 1x1
    convs ``C -> C / r -> C`` with a ReLU between, shared by both descriptors), then
    ``out = x' * sigmoid(norm(conv_kxk([mean_c(x'), max_c(x')])))`` (spatial attention).
    As in the authors' code the spatial conv has no bias and is followed by a BN; pass
    ``spatial_norm_cfg=None`` for a plain conv with bias. With ``in_channels`` as first argument
    the module works as an MMDetection/mmresfam ResNet ``plugin`` (abbreviation ``cbam``);
    the paper puts it after the last norm of the residual branch (``position='after_conv3'``).

    Attention map (:class:`~mmresfam.models.attentions.AttentionMapMixin`): the spatial gate,
    ``(B, 1, H, W)``, values in ``(0, 1)``.

    Args:
        in_channels (int): Input (= output) channels ``C``.
        reduction (int): Channel MLP reduction ratio ``r``, in ``[1, in_channels]``.
            Default: 16.
        spatial_kernel (int): Odd kernel size ``k`` of the spatial conv. Default: 7.
        min_channels (int): Lower bound of the MLP's hidden width ``max(C // r, min_channels)``.
            Default: 1.
        mlp_bias (bool): Whether the MLP's 1x1 convs have a bias (the paper's MLP has).
            Default: True.
        act_cfg (dict): Activation inside the MLP. Default: ``dict(type='ReLU')``.
        spatial_norm_cfg (dict, optional): Norm after the spatial conv; None for no norm.
            Default: ``dict(type='BN')``.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'cbam'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 spatial_kernel: int = 7,
                 min_channels: int = 1,
                 mlp_bias: bool = True,
                 act_cfg: dict = dict(type='ReLU'),
                 spatial_norm_cfg: Optional[dict] = dict(type='BN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        check_int_range('in_channels', in_channels, 1, owner=owner)
        check_int_range('reduction', reduction, 1, in_channels, owner=owner)
        check_int_range('spatial_kernel', spatial_kernel, 1, owner=owner)
        if spatial_kernel % 2 == 0:
            raise ValueError(f'{owner}: spatial_kernel must be an odd integer >= 1 (the map '
                             f'keeps its size), got {spatial_kernel}')
        check_int_range('min_channels', min_channels, 1, owner=owner)
        self.in_channels = in_channels
        self.hidden_channels = max(in_channels // reduction, min_channels)
        self.mlp = nn.Sequential(
            ConvModule(in_channels, self.hidden_channels, 1, bias=mlp_bias, act_cfg=act_cfg),
            ConvModule(self.hidden_channels, in_channels, 1, bias=mlp_bias, act_cfg=None))
        self.spatial_conv = ConvModule(
            2, 1, spatial_kernel, padding=spatial_kernel // 2, bias=spatial_norm_cfg is None,
            norm_cfg=spatial_norm_cfg, act_cfg=None)

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """Channel attention weights in ``(0, 1)``, shape ``(B, C, 1, 1)``."""
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        mx = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return torch.sigmoid(avg + mx)

    def spatial_gate(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial attention map in ``(0, 1)``, shape ``(B, 1, H, W)``."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.spatial_conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x.shape[1], self.in_channels, type(self).__name__)
        x = x * self.channel_gate(x)
        gate = self.spatial_gate(x)
        self._store_map(gate)
        return x * gate
