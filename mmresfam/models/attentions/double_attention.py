"""A2 double attention (Chen, Kalantidis, Li, Yan and Feng, NeurIPS 2018, "A^2-Nets: Double
Attention Networks").

Two attention steps with a global bottleneck of ``c_n`` descriptors in between:

1. **gather**: ``c_n`` attention maps ``softmax_over_positions(B)`` pool the features ``A``
   (``c_m`` channels) into ``c_n`` global descriptors ``G = A softmax(B)^T`` (``c_m x c_n``);
2. **distribute**: at every position a distribution over the ``c_n`` descriptors
   ``softmax_over_descriptors(V)`` mixes them back, ``Z = G softmax(V)``.

``Z`` is projected back to the input width by an optional 1x1 reconstruction conv and added to
the input (the A2 block is residual).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmresfam.registry import MODELS
from ..utils import check_channels, check_int_range
from .base import AttentionMapMixin

__all__ = ['DoubleAttention']


@MODELS.register_module()
class DoubleAttention(AttentionMapMixin, BaseModule):
    """A2 double-attention block; keeps the input shape and returns ``x + Z``.

    Paper: Chen et al., "A^2-Nets: Double Attention Networks", NeurIPS 2018 (arXiv 1810.11579).

    ``A = conv_a(x)`` (``c_m`` maps), ``B = conv_b(x)`` and ``V = conv_v(x)`` (``c_n`` maps
    each), all 1x1 convs with bias. Softmax dimensions, as in the paper: each of the ``c_n``
    gather maps of ``B`` is normalised over the ``H*W`` positions (it sums to 1 over the
    image), and each position's distribution ``V[:, i]`` is normalised over the ``c_n``
    descriptors. (xmu-xiaoma666/External-Attention-pytorch normalises ``B`` over its channels
    instead; that is not the paper's gather.)

    The module itself adds its input: ``out = x + reconstruct(Z)``. That keeps the plugin
    contract (same shape in and out) and, with ``zero_init=True``, makes a new block the
    identity: the last layer of the reconstruction (its norm's weight, or the conv's weight and
    bias when ``norm_cfg=None``) starts at zero, also after a backbone's ``init_weights``.
    Use it as a plugin at ``position='after_conv3'`` (or ``after_conv2``) of the last stages,
    where the paper puts its A2 blocks.

    Attention maps (:class:`~mmresfam.models.attentions.AttentionMapMixin`): the gather maps
    ``softmax(B)``, ``(B, c_n, H, W)`` (each map sums to 1 over positions), in
    ``last_attention_map``, and the distribution maps ``softmax(V)`` (same shape, sum 1 over
    the ``c_n`` channels) in ``last_distribution_map``.

    Args:
        in_channels (int): Input (= output) channels ``C``.
        c_m (int, optional): Channels of the gathered features ``A``. Default: ``C // 4``
            (at least 1). Must equal ``C`` when ``reconstruct=False``.
        c_n (int, optional): Number of global descriptors (gather / distribution maps).
            Default: ``C // 4`` (at least 1).
        reconstruct (bool): Project ``Z`` from ``c_m`` to ``C`` channels with a 1x1 conv (+
            norm). Default: True.
        norm_cfg (dict, optional): Norm after the reconstruction conv; None for a conv with
            bias. Default: ``dict(type='BN')``.
        zero_init (bool): Start the reconstruction at zero so the block starts as identity.
            Ignored when ``reconstruct=False``. Default: True.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'a2'
    last_distribution_map = None

    def __init__(self,
                 in_channels: int,
                 c_m: Optional[int] = None,
                 c_n: Optional[int] = None,
                 reconstruct: bool = True,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 zero_init: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        check_int_range('in_channels', in_channels, 1, owner=owner)
        c_m = max(in_channels // 4, 1) if c_m is None else c_m
        c_n = max(in_channels // 4, 1) if c_n is None else c_n
        check_int_range('c_m', c_m, 1, owner=owner)
        check_int_range('c_n', c_n, 1, owner=owner)
        if not reconstruct and c_m != in_channels:
            raise ValueError(f'{owner}: reconstruct=False needs c_m == in_channels '
                             f'(={in_channels}) to keep the shape, got c_m={c_m}')
        self.in_channels = in_channels
        self.c_m = c_m
        self.c_n = c_n
        self.zero_init = zero_init and reconstruct
        self.conv_a = nn.Conv2d(in_channels, c_m, 1)
        self.conv_b = nn.Conv2d(in_channels, c_n, 1)
        self.conv_v = nn.Conv2d(in_channels, c_n, 1)
        self.reconstruct = ConvModule(c_m, in_channels, 1, bias=norm_cfg is None,
                                      norm_cfg=norm_cfg, act_cfg=None) if reconstruct else None
        self._zero_reconstruction()

    def _zero_reconstruction(self):
        if not self.zero_init:
            return
        last = self.reconstruct.norm if self.reconstruct.with_norm else self.reconstruct.conv
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)

    def init_weights(self):
        """Apply ``init_cfg`` (if any), then zero the reconstruction again (``zero_init``)."""
        super().init_weights()
        self._zero_reconstruction()

    def attention_maps(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Gather maps (softmax over positions) and distribution maps (softmax over the
        ``c_n`` descriptors), both of shape ``(B, c_n, H, W)``."""
        gather = self.conv_b(x).flatten(2).softmax(dim=-1).view(x.shape[0], self.c_n,
                                                                 *x.shape[2:])
        distribute = self.conv_v(x).softmax(dim=1)
        return gather, distribute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x.shape[1], self.in_channels, type(self).__name__)
        b, _, h, w = x.shape
        gather, distribute = self.attention_maps(x)
        self._store_map(gather)
        self._store_map(distribute, 'last_distribution_map')
        feats = self.conv_a(x).flatten(2)                                    # (B, c_m, HW)
        descriptors = torch.bmm(feats, gather.flatten(2).transpose(1, 2))    # (B, c_m, c_n)
        z = torch.bmm(descriptors, distribute.flatten(2)).view(b, self.c_m, h, w)
        if self.reconstruct is not None:
            z = self.reconstruct(z)
        return x + z
