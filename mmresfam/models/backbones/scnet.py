"""SCNet (Liu et al., CVPR 2020, "Improving Convolutional Networks with Self-Calibrated
Convolutions").

A ResNet whose bottleneck splits its width in two halves: half ``a`` goes through a plain 3x3
conv-BN-ReLU (``k1``), half ``b`` through a self-calibrated convolution
(:class:`~mmresfam.models.attentions.SCConv`); the halves are concatenated before ``conv3``.
"""
import torch
import torch.nn as nn

from mmresfam.registry import MODELS
from ..attentions.scconv import SCConv
from ..utils import check_divisible, check_int_range
from .resnet import Bottleneck, ResNet, add_block_args

__all__ = ['SCBottleneck', 'SCNet']


class SCBottleneck(Bottleneck):
    """Self-calibrated bottleneck.

    ``conv1`` (1x1, ``in -> mid``) + ``bn1`` + ReLU computes both halves at once (it equals the
    reference ``conv1_a``/``conv1_b`` pair with their weights concatenated along the output
    channels); then half ``a`` -> ``conv2`` (3x3, stride) -> ``bn2`` -> ReLU (the reference
    ``k1``) and half ``b`` -> ``scconv``; ``cat`` -> ``conv3`` -> ``bn3``. Plugin positions
    and channels are those of :class:`~mmresfam.models.backbones.Bottleneck`
    (``after_conv2`` sees the concatenation).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        pooling_r (int): Down-sampling rate of the SCConv calibration branch. Default: 4.
        avd (bool): In a strided block, run ``conv2`` and ``scconv`` at stride 1 and downsample
            their concatenated output with ``AvgPool2d(3, stride, padding=1)`` (the official
            SCNet-50_v1d; ResNeSt's "avd"). Blocks with stride 1 are unchanged (the official
            code also blurs the first block of a *dilated* stage with a stride-1 3x3 average
            pool; we do not). Default: False.
        **kwargs: Arguments of :class:`~mmresfam.models.backbones.Bottleneck`.
    """

    supports_dcn = False  # its 3x3 conv is an attention unit

    def __init__(self, in_channels, out_channels, pooling_r=4, avd=False, **kwargs):
        check_int_range('pooling_r', pooling_r, 1, owner=type(self).__name__)
        self.avd_requested = avd
        super().__init__(in_channels, out_channels, **kwargs)
        half = self.mid_channels // 2
        self.avd_layer = nn.AvgPool2d(3, self.conv2_stride, padding=1) if self.avd else None
        self.scconv = SCConv(half, half, stride=1 if self.avd else self.conv2_stride,
                             pooling_r=pooling_r, dilation=self.dilation,
                             conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                             act_cfg=self.act_cfg)

    def make_spatial_conv(self):
        """``conv2``: the plain 3x3 conv of half ``a`` (stride 1 with avd) and its ``bn2``."""
        check_divisible('mid_channels', self.mid_channels, 2, 'the number of halves',
                        type(self).__name__)
        half = self.mid_channels // 2
        self.avd = self.avd_requested and self.conv2_stride > 1
        return self.conv(half, half, 3, stride=1 if self.avd else self.conv2_stride,
                         dilation=self.dilation), half

    def residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.forward_plugins(out, 'after_conv1')
        out_a, out_b = torch.chunk(out, 2, dim=1)
        out = torch.cat([self.relu(self.norm2(self.conv2(out_a))), self.scconv(out_b)], dim=1)
        if self.avd:
            out = self.avd_layer(out)
        out = self.forward_plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self.forward_plugins(out, 'after_conv3')


@MODELS.register_module()
class SCNet(ResNet):
    """SCNet backbone: ResNet with self-calibrated bottlenecks.

    Paper: Liu, Hou, Cheng, Wang and Feng, "Improving Convolutional Networks with
    Self-Calibrated Convolutions", CVPR 2020 (SCNet-50: 25.56M params with a 1000-class head,
    4.0 G multiply-adds). Reference code: MCG-NKU/SCNet.

    Registered as ``mmresfam.SCNet``. MMDetection's registry has an unrelated detector also
    named ``SCNet`` (Sample Consistency Network, instance segmentation); always write the
    scope, ``type='mmresfam.SCNet'``, to get this backbone.

    The official ``SCNet-50_v1d`` (deep 3x3 stem, average-pool shortcut downsampling and
    average-pool downsampling after the 3x3 convs of strided blocks; 25.58M params with head)
    is ``SCNet(depth=50, deep_stem=True, avg_down=True, avd=True)``.

    Args:
        depth (int): 26 (a small ``(2, 2, 2, 2)`` net for demos), 50 or 101.
        pooling_r (int): Down-sampling rate of every SCConv calibration branch. Default: 4.
        avd (bool): Average-pool downsampling inside strided blocks (see
            :class:`SCBottleneck`). Default: False.
        **kwargs: Every argument of :class:`~mmresfam.models.backbones.ResNet`
            (``deep_stem``, ``avg_down``, ``out_indices``, ``frozen_stages``, ``norm_eval``,
            ``with_cp``, ``drop_path_rate``, ``plugins``, ``strides``, ``dilations``, ...).
    """

    arch_settings = {
        26: (SCBottleneck, (2, 2, 2, 2)),
        50: (SCBottleneck, (3, 4, 6, 3)),
        101: (SCBottleneck, (3, 4, 23, 3)),
    }

    def __init__(self, depth: int, pooling_r: int = 4, avd: bool = False, **kwargs):
        super().__init__(depth, **add_block_args(kwargs, pooling_r=pooling_r, avd=avd))
