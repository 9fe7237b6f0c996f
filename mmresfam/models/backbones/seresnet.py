"""SE-ResNet and SE-ResNeXt (Hu, Shen and Sun, CVPR 2018, "Squeeze-and-Excitation Networks").

An SE bottleneck is a (ResNeXt) bottleneck with an :class:`~mmresfam.models.attentions.SE`
layer on the residual branch, after ``bn3`` and before the addition. The SE layer is
registered as the first ``after_conv3`` plugin of the block, so the inherited residual branch
runs it at exactly that point and drop path, checkpointing and further plugins keep working
(mmpretrain's SE bottleneck skips drop path). SE-ResNeXt combines :class:`SEBlockMixin` with
:class:`~mmresfam.models.backbones.resnext.ResNeXtBottleneck`, and its backbone is
:class:`SEResNet` and :class:`~mmresfam.models.backbones.ResNeXt` together, each adding its own
arguments to ``block_args``; nothing is copied.
"""
from mmresfam.registry import MODELS
from ..attentions.se import SE
from ..utils import check_int_range
from .resnet import Bottleneck, ResNet, add_block_args
from .resnext import ResNeXt, ResNeXtBottleneck

__all__ = ['SEBlockMixin', 'SEBottleneck', 'SEResNeXtBottleneck', 'SEResNet', 'SEResNeXt']


class SEBlockMixin:
    """Adds ``self.se_layer`` (an :class:`SE` on ``out_channels``) at the start of the
    ``after_conv3`` plugins of a bottleneck.

    Args:
        se_ratio (int): SE reduction ratio. Default: 16.
        *args, **kwargs: Arguments of the bottleneck it is mixed into.
    """

    def __init__(self, *args, se_ratio=16, **kwargs):
        check_int_range('se_ratio', se_ratio, 1, owner=type(self).__name__)
        super().__init__(*args, **kwargs)
        self.se_ratio = se_ratio
        self.se_layer = SE(self.out_channels, reduction=se_ratio)
        self.plugin_names['after_conv3'].insert(0, 'se_layer')


class SEBottleneck(SEBlockMixin, Bottleneck):
    """ResNet bottleneck with an SE layer after ``bn3`` (mmpretrain keys, ``se_layer.*``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        se_ratio (int): SE reduction ratio; the SE width is
            ``make_divisible(out_channels // se_ratio, 8)``. Default: 16.
        **kwargs: Every other argument of :class:`~mmresfam.models.backbones.Bottleneck`.
    """


class SEResNeXtBottleneck(SEBlockMixin, ResNeXtBottleneck):
    """ResNeXt bottleneck with an SE layer after ``bn3`` (mmpretrain SE-ResNeXt keys).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        se_ratio (int): SE reduction ratio. Default: 16.
        **kwargs: Every other argument of
            :class:`~mmresfam.models.backbones.resnext.ResNeXtBottleneck` (``groups``,
            ``width_per_group``, ``base_channels``, ...).
    """


@MODELS.register_module()
class SEResNet(ResNet):
    """SE-ResNet backbone (key-compatible with mmpretrain's ``SEResNet``).

    Paper: Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv 1709.01507).

    ``SEResNet(depth=50)`` is SE-ResNet-50 (26.04M backbone parameters; timm ``seresnet50``
    has the same structure). Depth 26 (two blocks per stage) is an extra, small entry used by
    the CPU demos.

    Args:
        depth (int): 26, 50, 101 or 152.
        se_ratio (int): Reduction ratio of every SE layer. Default: 16.
        **kwargs: Every argument of :class:`~mmresfam.models.backbones.ResNet`
            (``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``,
            ``drop_path_rate``, ``plugins``, ``strides``, ``dilations``,
            ``contract_dilation``, ``pretrained``, ``deep_stem``, ``avg_down``, ...).
    """

    arch_settings = {
        26: (SEBottleneck, (2, 2, 2, 2)),
        50: (SEBottleneck, (3, 4, 6, 3)),
        101: (SEBottleneck, (3, 4, 23, 3)),
        152: (SEBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth, se_ratio=16, **kwargs):
        super().__init__(depth, **add_block_args(kwargs, se_ratio=se_ratio))


@MODELS.register_module()
class SEResNeXt(SEResNet, ResNeXt):
    """SE-ResNeXt backbone (key-compatible with mmpretrain's ``SEResNeXt``).

    Paper: Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018; ResNeXt: Xie et
    al., CVPR 2017.

    ``SEResNeXt(depth=50)`` is SE-ResNeXt-50 32x4d (25.51M backbone parameters; timm
    ``seresnext50_32x4d`` has the same structure).

    Args:
        depth (int): 26, 50, 101 or 152.
        groups (int): Cardinality of the bottleneck 3x3 convs. Default: 32.
        width_per_group (int): Channels per group at the first stage. Default: 4.
        se_ratio (int): Reduction ratio of every SE layer. Default: 16.
        **kwargs: Every argument of :class:`~mmresfam.models.backbones.ResNet`.
    """

    arch_settings = {
        26: (SEResNeXtBottleneck, (2, 2, 2, 2)),
        50: (SEResNeXtBottleneck, (3, 4, 6, 3)),
        101: (SEResNeXtBottleneck, (3, 4, 23, 3)),
        152: (SEResNeXtBottleneck, (3, 8, 36, 3)),
    }
