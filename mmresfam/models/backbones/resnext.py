"""ResNeXt (Xie et al., CVPR 2017, "Aggregated Residual Transformations for Deep Neural Networks").

A ResNeXt bottleneck is a ResNet bottleneck whose 3x3 conv is a grouped conv with ``groups``
(the *cardinality*) groups of ``width_per_group`` channels each at the first stage, e.g. 32x4d.
Our :class:`~mmresfam.models.backbones.Bottleneck` already takes ``groups`` and
``width_per_group`` (one width rule, :func:`~mmresfam.models.backbones.resnet.bottleneck_width`);
ResNeXt only changes their defaults and passes them to every block as ``block_args``.
"""
from mmresfam.registry import MODELS
from .resnet import Bottleneck, ResNet, add_block_args

__all__ = ['ResNeXtBottleneck', 'ResNeXt']


class ResNeXtBottleneck(Bottleneck):
    """Bottleneck with a grouped 3x3 conv and the ResNeXt width rule (32x4d by default).

    With ``groups > 1`` the bottleneck width is
    ``groups * width_per_group * (out_channels / expansion) / base_channels``, i.e.
    ``groups * width_per_group`` at the first stage, doubled every stage (128 for 32x4d at
    stage 1). With ``groups == 1`` the block is the plain ResNet bottleneck and
    ``width_per_group`` is not used, as in mmpretrain's ResNeXt (so their checkpoints load).

    Keys are those of mmpretrain's ResNeXt bottleneck: ``conv1``, ``bn1``, ``conv2``
    (``groups`` groups), ``bn2``, ``conv3``, ``bn3``, ``downsample``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        groups (int): Cardinality: groups of ``conv2``. Default: 32.
        width_per_group (int): Channels per group at the first stage. Default: 4.
        **kwargs: Every other argument of :class:`~mmresfam.models.backbones.Bottleneck`
            (``base_channels``, ``expansion``, ``stride``, ``dilation``, ``downsample``,
            ``style``, ``with_cp``, ``conv_cfg``, ``norm_cfg``, ``drop_path_rate``,
            ``act_cfg``, ``plugins``, ``init_cfg``).
    """

    def __init__(self, in_channels, out_channels, groups=32, width_per_group=4, **kwargs):
        super().__init__(in_channels, out_channels, groups=groups,
                         width_per_group=width_per_group, **kwargs)


@MODELS.register_module()
class ResNeXt(ResNet):
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

    def __init__(self, depth, groups=32, width_per_group=4, **kwargs):
        super().__init__(depth, **add_block_args(kwargs, groups=groups,
                                                 width_per_group=width_per_group))
