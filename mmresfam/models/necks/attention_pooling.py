"""Attention, then global average pooling: a classifier neck."""
import copy
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmresfam.registry import MODELS

__all__ = ['AttentionPoolingNeck']


@MODELS.register_module()
class AttentionPoolingNeck(BaseModule):
    """Re-weight the backbone's last feature map(s) with an attention module, then pool.

    A drop-in replacement for mmpretrain's ``GlobalAveragePooling`` (same input and output
    convention: a tensor ``(B, C, H, W)`` gives ``(B, C)``; a tuple of tensors gives a tuple of
    ``(B, C_i)``), with any registered attention module that keeps the shape and takes
    ``in_channels`` (``mmresfam.SE``, ``CBAM``, ``SGE``, ``scSE``, ``DoubleAttention``, ...)
    applied before the pooling.

    Example::

        neck=dict(type='mmresfam.AttentionPoolingNeck',
                  attention=dict(type='mmresfam.CBAM', reduction=16), in_channels=2048)

    Args:
        attention (dict): Config of the attention module, without ``in_channels`` (the neck
            fills it in).
        in_channels (int | Sequence[int]): Channels of the input. An int: one module shared by
            every input of a tuple (all must have that many channels). A sequence: one module
            per input of a tuple, in order (a tuple of that length is then expected).
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    def __init__(self, attention: dict, in_channels: Union[int, Sequence[int]],
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        if not isinstance(attention, dict) or 'type' not in attention:
            raise ValueError(f"{owner}: attention must be a config dict with a 'type', got "
                             f'{attention!r}')
        if 'in_channels' in attention:
            raise ValueError(f'{owner}: give in_channels to the neck, not inside attention')
        self.shared = isinstance(in_channels, int)
        channels = [in_channels] if self.shared else list(in_channels)
        if not channels or any(not isinstance(c, int) or isinstance(c, bool) or c < 1
                               for c in channels):
            raise ValueError(f'{owner}: in_channels must be a positive int or a non-empty '
                             f'sequence of positive ints, got {in_channels!r}')
        self.in_channels = in_channels
        self.attentions = nn.ModuleList(
            self._build_attention(dict(copy.deepcopy(attention), in_channels=c))
            for c in channels)

    def _pool(self, x: torch.Tensor, attention: nn.Module) -> torch.Tensor:
        return attention(x).mean(dim=(2, 3))

    @staticmethod
    def _build_attention(cfg):
        """Build in mmresfam's scope: an unprefixed ``type`` means our module whatever scope
        (e.g. ``mmdet``) the running config made current."""
        from mmengine.registry import DefaultScope
        with DefaultScope.overwrite_default_scope('mmresfam'):
            return MODELS.build(cfg)

    def forward(self, inputs):
        if isinstance(inputs, torch.Tensor):
            if not self.shared:
                raise ValueError(f'{type(self).__name__}: in_channels is a sequence, so a '
                                 'tuple of feature maps is expected, got a tensor')
            return self._pool(inputs, self.attentions[0])
        if not isinstance(inputs, tuple):
            raise TypeError(f'{type(self).__name__}: inputs must be a tensor or a tuple of '
                            f'tensors, got {type(inputs)}')
        if self.shared:
            return tuple(self._pool(x, self.attentions[0]) for x in inputs)
        if len(inputs) != len(self.attentions):
            raise ValueError(f'{type(self).__name__}: got {len(inputs)} feature maps but '
                             f'in_channels has {len(self.attentions)} entries')
        return tuple(self._pool(x, att) for x, att in zip(inputs, self.attentions))
