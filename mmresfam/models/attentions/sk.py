"""Selective Kernel convolution (Li et al., CVPR 2019, "Selective Kernel Networks").

An SK unit replaces a 3x3 convolution. It runs ``M`` branches with different receptive fields
(3x3 convs with dilation 1, 2, ..., M: a 3x3 with dilation 2 covers a 5x5 field, as the paper
suggests), **fuses** them by summation, **squeezes** the fused map by global average pooling,
reduces it with a FC (+BN+ReLU) to ``d = max(C / r, L)`` channels, and **selects**: one FC per
branch (computed as one stacked 1x1 conv) gives ``M`` logits per channel, a softmax across the
branches turns them into weights, and the output is the weighted sum of the branches.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmresfam.registry import MODELS
from ..utils import (attention_sum, check_channels, check_divisible, check_int_range,
                     pointwise_conv)
from .base import conv_module_forward

__all__ = ['SK']


@MODELS.register_module()
class SK(BaseModule):
    """Selective Kernel convolution: a drop-in replacement for a 3x3 conv-BN-ReLU.

    Paper: Li, Wang, Hu and Yang, "Selective Kernel Networks", CVPR 2019 (arXiv 1903.06586).

    Branch ``i`` (``i = 0 .. M-1``) is a 3x3 conv with dilation ``(i + 1) * dilation`` followed
    by BN and ReLU, i.e. the ``3x3`` / ``5x5`` / ``7x7`` ... kernels of the paper written as
    dilated 3x3 convs. The attention has a reduction FC ``C -> d`` (no bias) + BN + ReLU and a
    stacked selection FC ``d -> M * C`` (no bias, branch-major channel order), softmax over the
    ``M`` branches. Only the branch convs are a Python loop (their dilations differ, so no
    single grouped op computes them); fusion, squeeze and selection are single tensor ops.

    The parameter layout matches timm's ``SelectiveKernel`` (``keep_3x3=True``), so timm
    ``skresnet*``/``skresnext*`` weights convert one-to-one.

    With ``in_channels`` first and ``out_channels=None`` it keeps the input shape, so it can be
    used as a ResNet ``plugin`` too.

    Batch size 1 in training: the attention norm (``attn_reduce``, on pooled ``(B, C, 1, 1)``
    vectors) goes through :func:`~mmresfam.models.attentions.attention_norm`, so with a batch
    of 1 it normalises with its running statistics (and does not update them) instead of
    raising "Expected more than 1 value per channel when training". The branch norms see
    ``H * W`` values per channel, like the backbone's own norms.

    Args:
        in_channels (int): Input channels.
        out_channels (int, optional): Output channels. Default: None (= ``in_channels``).
        num_branches (int): Number of branches ``M`` (>= 1). Default: 2.
        stride (int): Stride of every branch conv. Default: 1.
        dilation (int): Base dilation; branch ``i`` uses ``(i + 1) * dilation``. Default: 1.
        groups (int): Groups ``G`` of every branch conv (must divide the branch input and
            ``out_channels``). Default: 1.
        reduction (int): Reduction ratio ``r`` of the squeeze FC, in ``[1, out_channels]``.
            Default: 16.
        min_channels (int): Lower bound ``L`` of the squeezed width ``d = max(C // r, L)``.
            Default: 32.
        split_input (bool): Split the input channels evenly across the branches (each branch
            sees ``in_channels / M`` channels) as in timm's ``skresnet18/34``. Default: False
            (every branch sees the full input, as in the paper).
        conv_cfg (dict, optional): Conv config of the branch convs. Default: None.
        norm_cfg (dict): Norm config of branches and squeeze FC. Default: ``dict(type='BN')``.
        act_cfg (dict): Activation config of branches and squeeze FC.
            Default: ``dict(type='ReLU')``.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'sk'

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 num_branches: int = 2,
                 stride: int = 1,
                 dilation: int = 1,
                 groups: int = 1,
                 reduction: int = 16,
                 min_channels: int = 32,
                 split_input: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        out_channels = in_channels if out_channels is None else out_channels
        check_int_range('in_channels', in_channels, 1, owner=owner)
        check_int_range('out_channels', out_channels, 1, owner=owner)
        check_int_range('num_branches', num_branches, 1, owner=owner)
        check_int_range('stride', stride, 1, owner=owner)
        check_int_range('dilation', dilation, 1, owner=owner)
        check_int_range('groups', groups, 1, owner=owner)
        check_int_range('reduction', reduction, 1, out_channels, owner=owner)
        check_int_range('min_channels', min_channels, 1, owner=owner)
        branch_in = in_channels
        if split_input:
            check_divisible('in_channels', in_channels, num_branches, 'num_branches', owner)
            branch_in = in_channels // num_branches
        check_divisible('branch input channels', branch_in, groups, 'groups', owner)
        check_divisible('out_channels', out_channels, groups, 'groups', owner)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_branches = num_branches
        self.split_input = split_input
        self.attn_channels = max(out_channels // reduction, min_channels)
        self.branches = nn.ModuleList([
            ConvModule(branch_in, out_channels, 3, stride=stride, padding=(i + 1) * dilation,
                       dilation=(i + 1) * dilation, groups=groups, bias=False,
                       conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for i in range(num_branches)
        ])
        self.attn_reduce = ConvModule(out_channels, self.attn_channels, 1, bias=False,
                                      norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.attn_select = nn.Conv2d(self.attn_channels, out_channels * num_branches, 1,
                                     bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x.shape[1], self.in_channels, type(self).__name__)
        if self.split_input:
            inputs = torch.chunk(x, self.num_branches, dim=1)
        else:
            inputs = (x, ) * self.num_branches
        # (B, M, C, H, W): one copy, reused by squeeze and selection; a 4-D concat viewed as
        # 5-D (rather than a stack) keeps a channels-last input's layout for the branches'
        # gradients too
        outs = [branch(xi) for branch, xi in zip(self.branches, inputs)]
        feats = torch.cat(outs, dim=1).view(x.shape[0], self.num_branches, *outs[0].shape[1:])
        return attention_sum(feats, self.attention_logits)

    def attention_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """Per-branch means ``(B, M, C, 1, 1)`` -> selection logits ``(B, M, C, 1, 1)``:
        fuse + squeeze (the GAP of the branch sum is the sum of the branch GAPs, cheaper),
        reduce, select."""
        squeezed = pooled.sum(dim=1)
        logits = pointwise_conv(self.attn_select, conv_module_forward(self.attn_reduce,
                                                                      squeezed))
        return logits.view(pooled.shape[:3] + (1, 1))
