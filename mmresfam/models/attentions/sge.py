"""SGE (Li, Hu and Yang, 2019, "Spatial Group-wise Enhance: Improving Semantic Feature Learning
in Convolutional Networks", arXiv 1905.09646).

SGE splits the channels into ``G`` groups (each meant to capture one semantic sub-feature) and,
inside each group, enhances the positions whose local feature agrees with the group's global
descriptor: the similarity of every position with the group's spatial average is normalised over
space, scaled and shifted by a learnable per-group pair, and turned into a sigmoid gate.
It adds only ``2 G`` parameters and negligible FLOPs.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmresfam.registry import MODELS
from ..utils import check_channels, check_divisible, check_int_range
from .base import AttentionMapMixin

__all__ = ['SGE']


@MODELS.register_module()
class SGE(AttentionMapMixin, BaseModule):
    """Spatial Group-wise Enhance; keeps the input shape.

    Paper: Li, Hu and Yang, "Spatial Group-wise Enhance", arXiv 1905.09646 (2019); reference
    code: implus/PytorchInsight ``SpatialGroupEnhance``.

    For each group ``g`` with features ``x_g`` (``C / G`` channels):
    ``c_i = <mean_hw(x_g), x_g(i)>`` at every position ``i``, ``c`` is normalised over the
    ``m = H * W`` positions, ``c_hat = (c - mean(c)) / (std(c) + eps)``, ``a = weight_g *
    c_hat + bias_g`` and ``out_g = x_g * sigmoid(a)``. ``weight`` starts at 0 and ``bias`` at 1
    (the paper's initialisation), so a new SGE multiplies its input by ``sigmoid(1)``.

    ``std`` is the unbiased one (divisor ``m - 1``), as in the reference code, so that weights
    trained there give the same function here (the paper's formula divides by ``m``; on a
    9 x 11 map the two gates differ by up to ~7e-3). The reference is undefined on a 1 x 1 map
    (``m - 1 = 0``: NaN, e.g. the last stage of a small-input network); there, and only there,
    ``c - mean(c)`` is 0 and this module gives ``c_hat = 0``, i.e. the gate
    ``sigmoid(bias_g)``, with finite gradients.

    With ``in_channels`` as first argument the module works as an MMDetection/mmresfam ResNet
    ``plugin`` (abbreviation ``sge``; the paper places it after the last norm,
    ``position='after_conv3'``).

    Attention map (:class:`~mmresfam.models.attentions.AttentionMapMixin`): the gates,
    ``(B, G, H, W)``.

    Args:
        in_channels (int): Input (= output) channels ``C``; must be divisible by ``groups``.
        groups (int): Number of groups ``G``, in ``[1, in_channels]``. Default: 64.
        eps (float): Added to the std before dividing. Default: 1e-5.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'sge'

    def __init__(self, in_channels: int, groups: int = 64, eps: float = 1e-5,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        check_int_range('in_channels', in_channels, 1, owner=owner)
        check_int_range('groups', groups, 1, in_channels, owner=owner)
        check_divisible('in_channels', in_channels, groups, 'groups', owner)
        self.in_channels = in_channels
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.ones(1, groups, 1, 1))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """The per-group gates in ``(0, 1)``, shape ``(B, G, H, W)``, in ``x``'s dtype.

        The normalisation over positions runs in the parameters' precision when ``x`` has a
        lower one (fp32 for bf16/fp16 features under autocast, as autocast runs
        ``group_norm``); only the gate is rounded to ``x``'s dtype, so the output keeps it.
        """
        check_channels(x.shape[1], self.in_channels, type(self).__name__)
        b, _, h, w = x.shape
        xg = x.reshape(b, self.groups, -1, h, w)
        sim = (xg * xg.mean(dim=(3, 4), keepdim=True)).sum(dim=2)       # (B, G, H, W)
        sim = sim.to(torch.promote_types(sim.dtype, self.weight.dtype))
        sim = sim - sim.mean(dim=(2, 3), keepdim=True)
        if h * w > 1:  # the reference's (unbiased) std is NaN on a 1x1 map, where sim is 0
            sim = sim / (sim.std(dim=(2, 3), keepdim=True, correction=1) + self.eps)
        return torch.sigmoid(sim * self.weight + self.bias).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.gates(x)
        self._store_map(gate)
        b, _, h, w = x.shape
        out = x.reshape(b, self.groups, -1, h, w) * gate.unsqueeze(2)
        return out.reshape(x.shape)
