"""SKNet (Li et al., CVPR 2019, "Selective Kernel Networks").

The residual blocks of ResNet/ResNeXt with their 3x3 convolution replaced by a Selective Kernel
unit (:class:`~mmresfam.models.attentions.SK`). ``SKNet(depth=50)`` with its defaults is
SKNet-50 of the paper (ResNeXt-50 32x4d with ``M=2, G=32, r=16, L=32``; timm's
``skresnext50_32x4d`` has the same structure); ``depth=18/34`` give the SK-ResNet-18/34 of timm
(SK unit on the first, strided 3x3 conv of the basic block), and ``groups=1,
width_per_group=64`` gives SK-ResNet-50/101.
"""
from typing import Optional

from mmcv.cnn import build_conv_layer, build_norm_layer

from mmresfam.registry import MODELS
from ..attentions.sk import SK
from ..utils import check_depth, check_int_range
from .resnet import BasicBlock, Bottleneck, ResNet

__all__ = ['SKBasicBlock', 'SKBottleneck', 'SKNet']

DEFAULT_ACT = dict(type='ReLU', inplace=True)


def _sk(in_channels, out_channels, block, sk_kwargs, **extra):
    """Build the SK unit of ``block`` (stride/dilation/conv/norm/act taken from the block)."""
    return SK(in_channels, out_channels, dilation=block.dilation, conv_cfg=block.conv_cfg,
              norm_cfg=block.norm_cfg, **sk_kwargs, **extra)


class SKBasicBlock(BasicBlock):
    """Basic block whose first (strided) 3x3 conv-BN-ReLU is an SK unit (timm's layout).

    The SK unit ends with a convex combination of ReLU outputs, so the block's ``norm1`` and
    the ReLU after it are dropped. Keys: ``conv1.*`` (SK), ``conv2``/``bn2`` as in ResNet.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        groups (int): Must be 1 (a basic block has no cardinality). Default: 1.
        width_per_group (int): Must be 64. Default: 64.
        base_channels (int): Unused, accepted for a uniform block interface. Default: 64.
        num_branches (int): SK branches ``M``. Default: 2.
        reduction (int): SK reduction ``r``. Default: 16.
        min_channels (int): SK minimum attention width ``L``. Default: 32.
        split_input (bool): Split the input across SK branches (timm). Default: False.
        **kwargs: Arguments of :class:`~mmresfam.models.backbones.BasicBlock`.
    """

    default_groups = 1
    default_width_per_group = 64

    def __init__(self, in_channels, out_channels, groups=1, width_per_group=64,
                 base_channels=64, num_branches=2, reduction=16, min_channels=32,
                 split_input=False, **kwargs):
        owner = type(self).__name__
        check_int_range('groups', groups, 1, 1, owner)
        check_int_range('width_per_group', width_per_group, 64, 64, owner)
        super().__init__(in_channels, out_channels, **kwargs)
        self.conv1 = _sk(in_channels, self.mid_channels, self,
                         dict(num_branches=num_branches, reduction=reduction,
                              min_channels=min_channels, split_input=split_input),
                         stride=self.stride, act_cfg=kwargs.get('act_cfg', DEFAULT_ACT))
        delattr(self, self.norm1_name)

    def residual(self, x):
        out = self.forward_plugins(self.conv1(x), 'after_conv1')
        out = self.norm2(self.conv2(out))
        return self.forward_plugins(out, 'after_conv2')


class SKBottleneck(Bottleneck):
    """(ResNeXt) bottleneck whose 3x3 conv-BN-ReLU is an SK unit with ``G = groups``.

    The bottleneck width is ``groups * width_per_group * planes / base_channels`` (ResNeXt
    rule; ``groups=1, width_per_group=64`` is the plain ResNet width). Keys: ``conv1``/``bn1``,
    ``conv2.*`` (SK), ``conv3``/``bn3``; ``bn2`` is dropped (the SK branches have their BNs).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        groups (int): Cardinality ``G`` of the SK branch convs. Default: 32.
        width_per_group (int): Width of each group at the first stage. Default: 4.
        base_channels (int): Middle channels of the first stage of a plain ResNet.
            Default: 64.
        num_branches (int): SK branches ``M``. Default: 2.
        reduction (int): SK reduction ``r``. Default: 16.
        min_channels (int): SK minimum attention width ``L``. Default: 32.
        split_input (bool): Split the input across SK branches (timm). Default: False.
        plugins (list[dict], optional): Plugin entries of this stage.
        **kwargs: Arguments of :class:`~mmresfam.models.backbones.Bottleneck`.
    """

    default_groups = 32
    default_width_per_group = 4

    def __init__(self, in_channels, out_channels, groups=32, width_per_group=4,
                 base_channels=64, num_branches=2, reduction=16, min_channels=32,
                 split_input=False, plugins=None, **kwargs):
        owner = type(self).__name__
        check_int_range('groups', groups, 1, owner=owner)
        check_int_range('width_per_group', width_per_group, 1, owner=owner)
        super().__init__(in_channels, out_channels, plugins=None, **kwargs)
        mid = groups * width_per_group * self.mid_channels // base_channels
        if mid != self.mid_channels:  # ResNeXt width: rebuild the two 1x1 convs
            self.mid_channels = mid
            self.conv1 = build_conv_layer(self.conv_cfg, in_channels, mid, 1,
                                          stride=self.conv1_stride, bias=False)
            self.add_module(self.norm1_name, build_norm_layer(self.norm_cfg, mid, postfix=1)[1])
            self.conv3 = build_conv_layer(self.conv_cfg, mid, out_channels, 1, bias=False)
        self.conv2 = _sk(mid, mid, self,
                         dict(num_branches=num_branches, reduction=reduction,
                              min_channels=min_channels, split_input=split_input),
                         stride=self.conv2_stride, groups=groups,
                         act_cfg=kwargs.get('act_cfg', DEFAULT_ACT))
        delattr(self, self.norm2_name)
        self.build_plugins(plugins, dict(after_conv1=mid, after_conv2=mid,
                                         after_conv3=out_channels))

    def residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.forward_plugins(out, 'after_conv1')
        out = self.forward_plugins(self.conv2(out), 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self.forward_plugins(out, 'after_conv3')


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
        check_depth(depth, self.arch_settings, type(self).__name__)
        block = self.arch_settings[depth][0]
        self.block_kwargs = dict(
            groups=block.default_groups if groups is None else groups,
            width_per_group=(block.default_width_per_group
                             if width_per_group is None else width_per_group),
            base_channels=kwargs.get('base_channels', 64),
            num_branches=num_branches, reduction=reduction, min_channels=min_channels,
            split_input=split_input)
        super().__init__(depth, **kwargs)

    def make_res_layer(self, **kwargs):
        return super().make_res_layer(**self.block_kwargs, **kwargs)
