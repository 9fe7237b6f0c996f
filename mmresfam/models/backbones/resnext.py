"""ResNeXt (Xie et al., CVPR 2017, "Aggregated Residual Transformations for Deep Neural Networks").

A ResNeXt bottleneck is a ResNet bottleneck whose 3x3 conv is a grouped conv with ``groups``
(the *cardinality*) groups of ``width_per_group`` channels each at the first stage, e.g. 32x4d.
Only the width of the bottleneck and the grouping of ``conv2`` differ from ResNet, so
:class:`ResNeXtBottleneck` subclasses our :class:`~mmresfam.models.backbones.Bottleneck` and
rebuilds those three convs; forward, drop path, checkpointing and plugins are inherited.
"""
from mmcv.cnn import build_conv_layer, build_norm_layer

from mmresfam.registry import MODELS
from ..utils import check_divisible, check_int_range
from .resnet import Bottleneck, ResNet

__all__ = ['ResNeXtBottleneck', 'ResNeXt', 'ResNeXtArgsMixin']


class ResNeXtBottleneck(Bottleneck):
    """Bottleneck with a grouped 3x3 conv and the ResNeXt width rule.

    With ``groups > 1`` the bottleneck width is
    ``groups * width_per_group * (out_channels / expansion) / base_channels``, i.e.
    ``groups * width_per_group`` at the first stage, doubled every stage (128 for 32x4d at
    stage 1). With ``groups == 1`` the block is the plain ResNet bottleneck and
    ``width_per_group`` is ignored, as in mmpretrain's ResNeXt (so their checkpoints load).

    Keys are those of mmpretrain's ResNeXt bottleneck: ``conv1``, ``bn1``, ``conv2``
    (``groups`` groups), ``bn2``, ``conv3``, ``bn3``, ``downsample``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        base_channels (int): Middle channels of the first stage of the plain ResNet
            (the backbone's ``base_channels``). Default: 64.
        groups (int): Cardinality: groups of ``conv2``. Default: 32.
        width_per_group (int): Channels per group at the first stage. Default: 4.
        plugins (list[dict], optional): Plugin entries of this stage.
        **kwargs: Every other argument of :class:`~mmresfam.models.backbones.Bottleneck`
            (``expansion``, ``stride``, ``dilation``, ``downsample``, ``style``, ``with_cp``,
            ``conv_cfg``, ``norm_cfg``, ``drop_path_rate``, ``act_cfg``, ``init_cfg``).
    """

    def __init__(self, in_channels, out_channels, base_channels=64, groups=32,
                 width_per_group=4, plugins=None, **kwargs):
        owner = type(self).__name__
        check_int_range('groups', groups, 1, owner=owner)
        check_int_range('width_per_group', width_per_group, 1, owner=owner)
        check_int_range('base_channels', base_channels, 1, owner=owner)
        # plugins are built below, once the final widths are known
        super().__init__(in_channels, out_channels, plugins=None, **kwargs)
        self.groups = groups
        self.width_per_group = width_per_group
        if groups != 1:
            check_divisible('mid_channels (out_channels // expansion)', self.mid_channels,
                            base_channels, 'base_channels', owner)
            self.mid_channels = groups * width_per_group * self.mid_channels // base_channels
        self._build_convs(groups)
        self.build_plugins(plugins, dict(after_conv1=self.mid_channels,
                                         after_conv2=self.mid_channels,
                                         after_conv3=self.out_channels))

    def _build_convs(self, groups):
        """(Re)build conv1/bn1, the grouped conv2/bn2 and conv3/bn3 for ``self.mid_channels``."""
        mid = self.mid_channels
        self.conv1 = build_conv_layer(self.conv_cfg, self.in_channels, mid, 1,
                                      stride=self.conv1_stride, bias=False)
        self.conv2 = build_conv_layer(self.conv_cfg, mid, mid, 3, stride=self.conv2_stride,
                                      padding=self.dilation, dilation=self.dilation,
                                      groups=groups, bias=False)
        self.conv3 = build_conv_layer(self.conv_cfg, mid, self.out_channels, 1, bias=False)
        for postfix, channels in ((1, mid), (2, mid), (3, self.out_channels)):
            name, norm = build_norm_layer(self.norm_cfg, channels, postfix=postfix)
            self.add_module(name, norm)


class ResNeXtArgsMixin:
    """Backbone side of ResNeXt: stores ``groups``/``width_per_group`` and passes them (with
    ``base_channels``) to every stage. Shared by :class:`ResNeXt` and ``SEResNeXt``."""

    def __init__(self, depth, groups=32, width_per_group=4, **kwargs):
        owner = type(self).__name__
        check_int_range('groups', groups, 1, owner=owner)
        check_int_range('width_per_group', width_per_group, 1, owner=owner)
        self.groups = groups
        self.width_per_group = width_per_group
        super().__init__(depth, **kwargs)

    def make_res_layer(self, **kwargs):
        return super().make_res_layer(groups=self.groups, width_per_group=self.width_per_group,
                                      base_channels=self.base_channels, **kwargs)


@MODELS.register_module()
class ResNeXt(ResNeXtArgsMixin, ResNet):
    """ResNeXt backbone (key-compatible with mmpretrain's ``ResNeXt``).

    Paper: Xie, Girshick, Dollar, Tu and He, "Aggregated Residual Transformations for Deep
    Neural Networks", CVPR 2017 (arXiv 1611.05431).

    ``ResNeXt(depth=50)`` is ResNeXt-50 32x4d (22.98M backbone parameters, as timm
    ``resnext50_32x4d`` without its FC); ``groups=32, width_per_group=8`` gives 32x8d, and
    ``groups=64, width_per_group=4`` 64x4d. Depth 26 (two blocks per stage, as timm's
    ``*resnext26*``) is an extra, small entry used by the CPU demos.

    Args:
        depth (int): 26, 50, 101 or 152.
        groups (int): Cardinality of the bottleneck 3x3 convs. Default: 32.
        width_per_group (int): Channels per group at the first stage. Default: 4.
        **kwargs: Every argument of :class:`~mmresfam.models.backbones.ResNet`
            (``in_channels``, ``stem_channels``, ``base_channels``, ``strides``,
            ``dilations``, ``out_indices``, ``style``, ``deep_stem``, ``avg_down``,
            ``frozen_stages``, ``norm_cfg``, ``norm_eval``, ``with_cp``, ``drop_path_rate``,
            ``plugins``, ``contract_dilation``, ``pretrained``, ``init_cfg``, ...).
    """

    arch_settings = {
        26: (ResNeXtBottleneck, (2, 2, 2, 2)),
        50: (ResNeXtBottleneck, (3, 4, 6, 3)),
        101: (ResNeXtBottleneck, (3, 4, 23, 3)),
        152: (ResNeXtBottleneck, (3, 8, 36, 3)),
    }
