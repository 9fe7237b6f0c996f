"""ResNeSt (Zhang et al., 2020, "ResNeSt: Split-Attention Networks", arXiv 2004.08955).

ResNeSt is ResNet-D (deep 3x3 stem, average-pool shortcut downsampling) whose bottleneck 3x3
conv is a split-attention conv (:class:`~mmresfam.models.attentions.SplitAttentionConv2d`) and
whose strided blocks downsample with a 3x3 average pool ("avd") next to that conv instead of a
strided conv.

Checkpoint keys are MMPreTrain's (``stem.N.conv/bn``, ``layerX.Y.conv2.{conv,bn0,fc1,bn1,fc2}``,
no pool in the layer-1 shortcut), so MMPreTrain ResNeSt checkpoints load with ``strict=True``;
official/timm checkpoints convert with ``tools/model_converters/timm_resnest_to_mmresfam.py``.
Unlike MMPreTrain's block, the block here is our :class:`~.resnet.Bottleneck` with one conv
swapped, so ``drop_path_rate``, ``with_cp`` and ``plugins`` work.
"""
from typing import Optional, Union

import torch.nn as nn

from mmresfam.registry import MODELS
from ..attentions.split_attention import SplitAttentionConv2d
from ..utils import check_choice, check_depth, check_divisible, check_int_range
from .resnet import Bottleneck as _Bottleneck
from .resnet import ResNetV1d, add_block_args, bottleneck_width

__all__ = ['ResNeStBottleneck', 'ResNeSt']

AVD_MODES = (True, False, 'first', 'last')


def _avd_position(avd: Union[bool, str], avd_first: bool, owner: str) -> Optional[str]:
    """Resolve ``avd``/``avd_first`` to ``'first'``, ``'last'`` or None (no avd)."""
    check_choice('avd', avd, AVD_MODES, owner)
    if not isinstance(avd_first, bool):
        raise ValueError(f'{owner}: avd_first must be a bool, got {avd_first!r}')
    if avd is False:
        return None
    if avd is True:
        return 'first' if avd_first else 'last'
    if avd_first and avd == 'last':
        raise ValueError(f"{owner}: avd='last' contradicts avd_first=True; give one of them")
    return avd


class ResNeStBottleneck(_Bottleneck):
    """ResNeSt bottleneck: our ResNet bottleneck with a split-attention 3x3 conv and avd.

    Paper: Zhang et al., "ResNeSt: Split-Attention Networks" (arXiv 2004.08955).

    ``conv1`` (1x1) -> ``bn1`` -> ReLU -> [avd pool if ``'first'``] -> ``conv2``
    (:class:`SplitAttentionConv2d`, includes its own ``bn0`` + ReLU, so there is no ``bn2``)
    -> [avd pool if ``'last'``] -> ``conv3`` (1x1) -> ``bn3``; plus the shortcut, drop path,
    ``with_cp`` and plugins of :class:`~.resnet.Bottleneck`. The avd pool
    (``AvgPool2d(3, stride, padding=1)``, key-less ``avd_layer``) takes the block's stride and
    the split conv runs with stride 1; it is only built when the 3x3 conv would be strided
    (``stride > 1``, pytorch style), as in MMPreTrain and timm.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        groups (int): Cardinality ``K`` of the split-attention conv. Default: 1.
        base_width (int): Width per cardinal group at ``base_channels`` planes, used when
            ``groups > 1`` (the block's ``width_per_group``, see
            :func:`~.resnet.bottleneck_width`). Default: 4.
        radix (int): Radix ``R`` of the split-attention conv. Default: 2.
        reduction_factor (int): Attention width ``max(width * R // reduction_factor, 32)``.
            Default: 4.
        avd (bool | str): Average-pool downsampling: True (position from ``avd_first``),
            ``'first'`` (pool before the split conv, the "fast" variants), ``'last'`` (after
            it, ResNeSt-50..269) or False (strided split conv). Default: True.
        avd_first (bool): With ``avd=True``, pool before the split conv. Default: False.
        **kwargs: Other arguments of :class:`~.resnet.Bottleneck` (``base_channels``,
            ``stride``, ``dilation``, ``downsample``, ``style``, ``with_cp``, ``conv_cfg``,
            ``norm_cfg``, ``drop_path_rate``, ``plugins``, ...).
    """

    width_name = 'base_width'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 groups: int = 1,
                 base_width: int = 4,
                 radix: int = 2,
                 reduction_factor: int = 4,
                 avd: Union[bool, str] = True,
                 avd_first: bool = False,
                 **kwargs):
        self.avd_mode = _avd_position(avd, avd_first, type(self).__name__)
        self.base_width = base_width
        self.radix = radix
        self.reduction_factor = reduction_factor
        super().__init__(in_channels, out_channels, groups=groups, width_per_group=base_width,
                         **kwargs)
        if self.avd_position:
            self.avd_layer = nn.AvgPool2d(3, self.conv2_stride, padding=1)

    def make_spatial_conv(self):
        """The split-attention conv (with its own ``bn0`` + ReLU, so no ``bn2``; its ``conv``
        deformable with ``dcn``, as in MMDetection); with avd it runs at stride 1 and the avd
        pool takes the block's stride."""
        # avd replaces the strided 3x3 conv; no pool when conv2 is not strided
        self.avd_position = self.avd_mode if self.conv2_stride > 1 else None
        conv = SplitAttentionConv2d(
            self.mid_channels, self.mid_channels, kernel_size=3,
            stride=1 if self.avd_position else self.conv2_stride,
            padding=self.dilation, dilation=self.dilation, groups=self.groups,
            radix=self.radix, reduction=self.reduction_factor,
            conv_cfg=self.spatial_conv_cfg, norm_cfg=self.norm_cfg)
        return conv, None

    @property
    def avg_down_stride(self) -> bool:
        """MMPreTrain's name: whether this block downsamples with the avd pool."""
        return self.avd_position is not None

    def residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.forward_plugins(out, 'after_conv1')
        if self.avd_position == 'first':
            out = self.avd_layer(out)
        out = self.conv2(out)
        if self.avd_position == 'last':
            out = self.avd_layer(out)
        out = self.forward_plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self.forward_plugins(out, 'after_conv3')


@MODELS.register_module()
class ResNeSt(ResNetV1d):
    """ResNeSt backbone (ResNet-D with split-attention bottlenecks).

    Paper: Zhang et al., "ResNeSt: Split-Attention Networks", CVPR-W 2022 (arXiv 2004.08955).

    Published models (``stem_channels`` is the deep stem's output; its first two convs have
    half of it):

    ============  ==============  =====================================  ==================
    model         depth           stem_channels (official stem_width)    timm name
    ============  ==============  =====================================  ==================
    ResNeSt-14    14 (1,1,1,1)    64 (32)                                resnest14d
    ResNeSt-26    26 (2,2,2,2)    64 (32)                                resnest26d
    ResNeSt-50    50              64 (32)                                resnest50d
    ResNeSt-101   101             128 (64)                               resnest101e
    ResNeSt-200   200             128 (64)                               resnest200e
    ResNeSt-269   269             128 (64)                               resnest269e
    ============  ==============  =====================================  ==================

    All use ``radix=2, groups=1, avd=True, avd_first=False``. The "fast" ablation variants are
    e.g. ``radix=4, groups=2, base_width=40, avd_first=True`` (timm ``resnest50d_4s2x40d``).

    Same checkpoint keys and same function as MMPreTrain's ``ResNeSt`` (whose configs also
    work here: ``width_per_group`` and ``avg_down_stride`` are accepted as aliases). Unlike
    MMPreTrain, official ResNeSt applies the avd pool (stride 1) to the first block of dilated
    stages; here, like MMPreTrain/MMDetection/timm, a block without stride has no avd pool.

    Args:
        depth (int): Depth, a key of ``arch_settings`` (14, 26, 50, 101, 152, 200, 269).
        groups (int): Cardinality ``K`` of every split-attention conv. Default: 1.
        base_width (int): Width per cardinal group at the first stage, used when
            ``groups > 1`` (``groups=2, base_width=40`` is "2x40d"). With ``groups=1`` the
            width is the ResNet width and ``base_width`` must stay 4 (OpenMMLab default) or
            64 (official/timm value for that width). Default: 4.
        width_per_group (int, optional): MMPreTrain's name for ``base_width``. Default: None.
        radix (int): Radix ``R`` (>= 1; 1 is an SE-like sigmoid gate). Default: 2.
        reduction_factor (int): Attention width ``max(width * R // reduction_factor, 32)``.
            Default: 4.
        avd (bool | str): Average-pool downsampling in strided blocks: True, False,
            ``'first'`` or ``'last'`` (see :class:`ResNeStBottleneck`). Default: True.
        avd_first (bool): With ``avd=True``, pool before the split conv (the "fast"
            variants). Default: False.
        avg_down_stride (bool, optional): MMPreTrain/MMDetection name for ``avd`` (bool).
            Default: None.
        **kwargs: Every argument of :class:`~.resnet.ResNet` except ``deep_stem``/``avg_down``
            (fixed to True): ``stem_channels`` (default 64; 128 for ResNeSt-101/200/269),
            ``base_channels``, ``num_stages``, ``strides``, ``dilations``, ``out_indices``,
            ``style``, ``frozen_stages``, ``conv_cfg``, ``norm_cfg``, ``norm_eval``,
            ``with_cp``, ``zero_init_residual``, ``drop_path_rate``, ``plugins``,
            ``contract_dilation``, ``pretrained``, ``init_cfg``.
    """

    arch_settings = {
        14: (ResNeStBottleneck, (1, 1, 1, 1)),
        26: (ResNeStBottleneck, (2, 2, 2, 2)),
        50: (ResNeStBottleneck, (3, 4, 6, 3)),
        101: (ResNeStBottleneck, (3, 4, 23, 3)),
        152: (ResNeStBottleneck, (3, 8, 36, 3)),
        200: (ResNeStBottleneck, (3, 24, 36, 3)),
        269: (ResNeStBottleneck, (3, 30, 48, 8)),
    }

    def __init__(self,
                 depth: int,
                 groups: int = 1,
                 base_width: int = 4,
                 radix: int = 2,
                 reduction_factor: int = 4,
                 avd: Union[bool, str] = True,
                 avd_first: bool = False,
                 width_per_group: Optional[int] = None,
                 avg_down_stride: Optional[bool] = None,
                 **kwargs):
        owner = type(self).__name__
        check_depth(depth, self.arch_settings, owner)
        if width_per_group is not None:
            if base_width not in (4, width_per_group):
                raise ValueError(f'{owner}: give base_width or its alias width_per_group, not '
                                 f'both ({base_width} vs {width_per_group})')
            base_width = width_per_group
        if avg_down_stride is not None:
            if avd is not True and avd != avg_down_stride:
                raise ValueError(f'{owner}: give avd or its alias avg_down_stride, not both '
                                 f'({avd!r} vs {avg_down_stride!r})')
            avd = bool(avg_down_stride)
        check_int_range('groups', groups, 1, owner=owner)
        check_int_range('radix', radix, 1, owner=owner)
        check_int_range('reduction_factor', reduction_factor, 1, owner=owner)
        check_int_range('base_width', base_width, 1, owner=owner)
        if groups == 1 and base_width not in (4, 64):
            raise ValueError(
                f'{owner}: base_width={base_width} has no effect with groups=1 (the width is '
                'the ResNet width, i.e. base_width 64); allowed values with groups=1 are '
                '[4, 64]; use groups > 1 for another width')
        _avd_position(avd, avd_first, owner)
        base_channels = kwargs.get('base_channels', 64)
        for stage in range(kwargs.get('num_stages', 4)):
            width = bottleneck_width(base_channels * 2**stage, groups, base_width,
                                     base_channels, owner, 'base_width')
            check_divisible(f'width of stage {stage + 1} (from base_channels={base_channels}, '
                            f'groups={groups}, base_width={base_width})', width,
                            groups * radix, 'groups * radix', owner)
        super().__init__(depth=depth, **add_block_args(
            kwargs, groups=groups, base_width=base_width, radix=radix,
            reduction_factor=reduction_factor, avd=avd, avd_first=avd_first))

    @property
    def width_per_group(self) -> int:
        """MMPreTrain's name of ``base_width``."""
        return self.block_args['base_width']
