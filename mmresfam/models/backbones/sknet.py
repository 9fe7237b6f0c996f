"""SKNet (Li et al., CVPR 2019, "Selective Kernel Networks").

The residual blocks of ResNet/ResNeXt with their 3x3 convolution replaced by a Selective Kernel
unit (:class:`~mmresfam.models.attentions.SK`). ``SKNet(depth=50)`` with its defaults is
SKNet-50 of the paper (ResNeXt-50 32x4d with ``M=2, G=32, r=16, L=32``; timm's
``skresnext50_32x4d`` has the same structure); ``depth=18/34`` give the SK-ResNet-18/34 of timm
(SK unit on the first, strided 3x3 conv of the basic block), and ``groups=1,
width_per_group=64`` gives SK-ResNet-50/101.
"""
from typing import Optional

from mmresfam.registry import MODELS
from ..attentions.sk import SK
from ..utils import check_int_range
from .resnet import BasicBlock, Bottleneck, ResNet, add_block_args

__all__ = ['SKBasicBlock', 'SKBottleneck', 'SKNet']


class SKBasicBlock(BasicBlock):
    """Basic block whose first (strided) 3x3 conv-BN-ReLU is an SK unit (timm's layout).

    The SK unit ends with a convex combination of ReLU outputs, so the block has no ``norm1``
    and no ReLU after ``conv1``. Keys: ``conv1.*`` (SK), ``conv2``/``bn2`` as in ResNet.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        groups (int): Must be 1 (a basic block has no cardinality). Default: 1.
        width_per_group (int): Must be 64. Default: 64.
        num_branches (int): SK branches ``M``. Default: 2.
        reduction (int): SK reduction ``r``. Default: 16.
        min_channels (int): SK minimum attention width ``L``. Default: 32.
        split_input (bool): Split the input across SK branches (timm). Default: False.
        **kwargs: Arguments of :class:`~mmresfam.models.backbones.BasicBlock`.
    """

    def __init__(self, in_channels, out_channels, groups=1, width_per_group=64,
                 num_branches=2, reduction=16, min_channels=32, split_input=False, **kwargs):
        owner = type(self).__name__
        check_int_range('groups', groups, 1, 1, owner)
        check_int_range('width_per_group', width_per_group, 64, 64, owner)
        self.sk_args = dict(num_branches=num_branches, reduction=reduction,
                            min_channels=min_channels, split_input=split_input)
        super().__init__(in_channels, out_channels, **kwargs)

    def make_spatial_conv(self):
        """``conv1``: the SK unit (its branches bring their own BN-ReLU)."""
        return SK(self.in_channels, self.mid_channels, stride=self.stride,
                  dilation=self.dilation, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                  act_cfg=self.act_cfg, **self.sk_args), None


class SKBottleneck(Bottleneck):
    """(ResNeXt) bottleneck whose 3x3 conv-BN-ReLU is an SK unit with ``G = groups``.

    The bottleneck width is ``groups * width_per_group * planes / base_channels`` (ResNeXt
    rule; ``groups=1, width_per_group=64`` is the plain ResNet width). Keys: ``conv1``/``bn1``,
    ``conv2.*`` (SK), ``conv3``/``bn3``; no ``bn2`` (the SK branches have their BNs).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        groups (int): Cardinality ``G`` of the SK branch convs. Default: 32.
        width_per_group (int): Width of each group at the first stage; with ``groups=1`` it
            must be 64 (the ResNet width). Default: 4.
        num_branches (int): SK branches ``M``. Default: 2.
        reduction (int): SK reduction ``r``. Default: 16.
        min_channels (int): SK minimum attention width ``L``. Default: 32.
        split_input (bool): Split the input across SK branches (timm). Default: False.
        **kwargs: Arguments of :class:`~mmresfam.models.backbones.Bottleneck`
            (``base_channels``, ``plugins``, ...).
    """

    supports_dcn = False  # its 3x3 conv is an attention unit

    def __init__(self, in_channels, out_channels, groups=32, width_per_group=4,
                 num_branches=2, reduction=16, min_channels=32, split_input=False, **kwargs):
        if groups == 1 and width_per_group != 64:
            raise ValueError(f'{type(self).__name__}: width_per_group={width_per_group!r} has '
                             'no effect with groups=1 (the width is the ResNet width); the '
                             'allowed value with groups=1 is 64')
        self.sk_args = dict(num_branches=num_branches, reduction=reduction,
                            min_channels=min_channels, split_input=split_input)
        super().__init__(in_channels, out_channels, groups=groups,
                         width_per_group=width_per_group, **kwargs)

    def make_spatial_conv(self):
        """``conv2``: the SK unit (its branches bring their own BN-ReLU)."""
        return SK(self.mid_channels, self.mid_channels, stride=self.conv2_stride,
                  dilation=self.dilation, groups=self.groups, conv_cfg=self.conv_cfg,
                  norm_cfg=self.norm_cfg, act_cfg=self.act_cfg, **self.sk_args), None


@MODELS.register_module()
class SKNet(ResNet):
    """SKNet / SK-ResNet / SK-ResNeXt backbone.

    Paper: Li, Wang, Hu and Yang, "Selective Kernel Networks", CVPR 2019.

    A :class:`~mmresfam.models.backbones.ResNet` whose blocks use Selective Kernel units.
    Presets (with a 1000-class linear head):

    * ``SKNet(depth=50)``: SKNet-50 = SK-ResNeXt-50 32x4d, ``M=2, G=32, r=16, L=32`` (paper
      27.5M params); same structure as timm ``skresnext50_32x4d``.
    * ``SKNet(depth=18|34, reduction=8, min_channels=16, split_input=True)``: timm
      ``skresnet18``/``skresnet34``.
    * ``SKNet(depth=50, groups=1, width_per_group=64)``: SK-ResNet-50.

    Args:
        depth (int): 18, 34 (SK basic blocks), 50, 101, 152 (SK bottlenecks).
        groups (int, optional): Cardinality of the SK convs. Default: None (32 for
            bottlenecks, 1 for basic blocks).
        width_per_group (int, optional): Width per group at the first stage. Default: None
            (4 for bottlenecks, 64 for basic blocks).
        num_branches (int): SK branches ``M`` (3x3 convs with dilation 1..M). Default: 2.
        reduction (int): SK reduction ratio ``r``. Default: 16.
        min_channels (int): SK minimum attention width ``L``. Default: 32.
        split_input (bool): Split each SK unit's input across its branches (timm
            ``skresnet18/34``). Default: False.
        **kwargs: Every argument of :class:`~mmresfam.models.backbones.ResNet`
            (``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``,
            ``drop_path_rate``, ``plugins``, ``strides``, ``dilations``, ``deep_stem``, ...).
    """

    arch_settings = {
        18: (SKBasicBlock, (2, 2, 2, 2)),
        34: (SKBasicBlock, (3, 4, 6, 3)),
        50: (SKBottleneck, (3, 4, 6, 3)),
        101: (SKBottleneck, (3, 4, 23, 3)),
        152: (SKBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int,
                 groups: Optional[int] = None,
                 width_per_group: Optional[int] = None,
                 num_branches: int = 2,
                 reduction: int = 16,
                 min_channels: int = 32,
                 split_input: bool = False,
                 **kwargs):
        block_args = dict(num_branches=num_branches, reduction=reduction,
                          min_channels=min_channels, split_input=split_input)
        # unset: the block's own default (32x4d for bottlenecks, 1x64d for basic blocks)
        for name, value in (('groups', groups), ('width_per_group', width_per_group)):
            if value is not None:
                block_args[name] = value
        super().__init__(depth, **add_block_args(kwargs, **block_args))
