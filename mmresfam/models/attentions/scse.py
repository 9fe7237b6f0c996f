"""scSE (Roy, Navab and Wachinger, MICCAI 2018, "Concurrent Spatial and Channel 'Squeeze &
Excitation' in Fully Convolutional Networks").

Two gates computed concurrently from the same input: the channel gate of SE (``cSE``: global
pooling, bottleneck MLP, sigmoid, one weight per channel) and a spatial gate (``sSE``: a 1x1 conv
``C -> 1`` and a sigmoid, one weight per position). The two recalibrated maps are **added**.
"""
from typing import Optional

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmresfam.registry import MODELS
from ..utils import check_channels, check_choice, check_int_range
from .base import AttentionMapMixin
from .se import SE

__all__ = ['scSE']


@MODELS.register_module()
class scSE(AttentionMapMixin, BaseModule):  # noqa: N801 (the paper's spelling, also the registered name)
    """Concurrent spatial and channel squeeze & excitation; keeps the input shape.

    Paper: Roy, Navab and Wachinger, "Concurrent Spatial and Channel 'Squeeze & Excitation' in
    Fully Convolutional Networks", MICCAI 2018 (arXiv 1803.02579).

    ``out = x * cSE(x) + x * sSE(x)`` with ``cSE(x) = sigmoid(W2 relu(W1 mean_hw(x)))``
    (:class:`~mmresfam.models.attentions.SE` with ``C // r`` hidden channels, as in the paper and
    segmentation_models_pytorch) and ``sSE(x) = sigmoid(conv1x1(x))`` (``C -> 1``).
    ``fusion='max'`` takes the element-wise maximum of the two instead of their sum (the
    "max-out" variant of the authors' journal follow-up; ours, not benchmarked here).

    With ``in_channels`` as first argument it works as an MMDetection/mmresfam ResNet
    ``plugin`` (abbreviation ``scse``).

    Attention map (:class:`~mmresfam.models.attentions.AttentionMapMixin`): the spatial (sSE)
    gate, ``(B, 1, H, W)``.

    Args:
        in_channels (int): Input (= output) channels ``C``.
        reduction (int): cSE reduction ratio ``r``, in ``[1, in_channels]``; the hidden width is
            ``max(C // r, 1)``. Default: 16.
        fusion (str): ``'add'`` (paper) or ``'max'``. Default: ``'add'``.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'scse'
    FUSIONS = ('add', 'max')

    def __init__(self, in_channels: int, reduction: int = 16, fusion: str = 'add',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        check_int_range('in_channels', in_channels, 1, owner=owner)
        check_int_range('reduction', reduction, 1, in_channels, owner=owner)
        check_choice('fusion', fusion, self.FUSIONS, owner)
        self.in_channels = in_channels
        self.fusion = fusion
        self.cse = SE(in_channels, reduction=reduction,
                      squeeze_channels=max(in_channels // reduction, 1))
        self.sse = ConvModule(in_channels, 1, 1, act_cfg=None)

    def spatial_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The sSE gate in ``(0, 1)``, shape ``(B, 1, H, W)``."""
        return torch.sigmoid(self.sse(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x.shape[1], self.in_channels, type(self).__name__)
        s_gate = self.spatial_gate(x)
        self._store_map(s_gate)
        channel = x * self.cse.channel_weights(x)
        spatial = x * s_gate
        if self.fusion == 'max':
            return torch.maximum(channel, spatial)
        return channel + spatial
