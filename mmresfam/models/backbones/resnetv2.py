"""ResNetV2: pre-activation ResNet (He et al., 2016, "Identity Mappings in Deep Residual
Networks", ECCV 2016, arXiv 1603.05027).

A pre-activation unit normalises and activates its *input* (BN -> ReLU -> conv, three times
for a bottleneck) and adds the raw shortcut without any activation after the sum, so the
identity path runs unchanged through the whole network. When the shortcut needs a projection
(stride or width change), the projection takes the *pre-activated* input, as in the paper and in
timm's ``resnetv2_*`` models.

The blocks here subclass our :class:`Bottleneck`/:class:`BasicBlock` and change only what
differs: where the norms sit (``norm1`` sees the block input), :meth:`forward_inner`
(pre-activate once, project the pre-activated input) and :meth:`post_activation` (identity), so
plugins, ``drop_path_rate`` and ``with_cp`` behave exactly as in every other block.
"""
from typing import Optional

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import constant_init

from mmresfam.registry import MODELS
from .resnet import BasicBlock, Bottleneck, ResNet

__all__ = ['PreActBasicBlock', 'PreActBottleneck', 'strip_projection_norm', 'ResNetV2']


class PreActMixin:
    """Forward of a pre-activation unit: ``drop_path(residual(a)) + shortcut``.

    ``a = relu(norm1(x))`` is computed once and feeds the residual branch.
    The shortcut is ``x`` itself, or the projection ``downsample(a)`` of the pre-activated input.
    Nothing is applied after the sum.
    """

    def forward_inner(self, x):
        preact = self.relu(self.norm1(x))
        shortcut = x if self.downsample is None else self.downsample(preact)
        out = self.drop_path(self.residual(preact))
        out += shortcut  # in place, like ResidualForwardMixin.forward_inner
        return out

    def post_activation(self, out):
        return out

    def zero_init_last(self):
        """Start the unit as the identity by zeroing its last conv (``zero_init_residual``).

        MMPreTrain's ``zero_init_residual`` zeroes a block's last *norm*. In a post-activation
        block that norm feeds the sum and still gets gradients; in a pre-activation unit it is
        followed by a ReLU, whose gradient at 0 is 0, so the whole residual branch would never
        train. Here that norm keeps its default (weight 1, bias 0) and the last conv is zeroed
        instead, as timm's ``zero_init_last`` does for its pre-activation units.
        """
        norm_attr, conv_attr = self.last_norm_and_conv
        constant_init(getattr(self, norm_attr), 1)
        constant_init(getattr(self, conv_attr), 0)


class PreActBasicBlock(PreActMixin, BasicBlock):
    """Pre-activation basic unit: ``conv3x3(relu(bn2(conv3x3(relu(bn1(x)))))) + shortcut``.

    Paper: He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016.

    Same arguments as :class:`BasicBlock` (``in_channels``, ``out_channels``, ``expansion``,
    ``stride``, ``dilation``, ``downsample``, ``style``, ``with_cp``, ``conv_cfg``, ``norm_cfg``,
    ``drop_path_rate``, ``act_cfg``, ``plugins``, ``init_cfg``). ``norm1`` normalises the block
    input (``in_channels``); ``norm2`` sits between the two convs. Plugins run right after
    ``conv1`` (``after_conv1``) and ``conv2`` (``after_conv2``).
    """

    last_norm_and_conv = ('norm2', 'conv2')

    def norm_channels(self, norm1):
        """Pre-activation: ``norm1`` normalises the block input."""
        return self.in_channels, self.out_channels

    def residual(self, x):
        out = self.forward_plugins(self.conv1(x), 'after_conv1')
        out = self.conv2(self.relu(self.norm2(out)))
        return self.forward_plugins(out, 'after_conv2')


class PreActBottleneck(PreActMixin, Bottleneck):
    """Pre-activation bottleneck: BN-ReLU-conv1x1, BN-ReLU-conv3x3, BN-ReLU-conv1x1, + shortcut.

    Paper: He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016. This is also the
    residual unit of the Residual Attention Network (Wang et al., CVPR 2017).

    Same arguments as :class:`Bottleneck` (``in_channels``, ``out_channels``, ``expansion``,
    ``stride``, ``dilation``, ``downsample``, ``style``, ``with_cp``, ``conv_cfg``, ``norm_cfg``,
    ``act_cfg``, ``drop_path_rate``, ``plugins``, ``init_cfg``). ``norm1`` normalises the block
    input (``in_channels``), ``norm2``/``norm3`` the ``mid_channels`` inputs of ``conv2``/``conv3``.
    With ``style='pytorch'`` the stride is on the 3x3 conv (as in timm). Plugins run right after
    each conv (``after_conv1/2/3``), before the next norm.
    """

    last_norm_and_conv = ('norm3', 'conv3')

    def norm_channels(self, norm2):
        """Pre-activation: each norm normalises the input of the next conv."""
        return self.in_channels, self.mid_channels, self.mid_channels

    def residual(self, x):
        out = self.forward_plugins(self.conv1(x), 'after_conv1')
        out = self.forward_plugins(self.conv2(self.relu(self.norm2(out))), 'after_conv2')
        out = self.conv3(self.relu(self.norm3(out)))
        return self.forward_plugins(out, 'after_conv3')


def strip_projection_norm(layer: nn.Sequential) -> nn.Sequential:
    """Drop the norm that ends the projection shortcut of a stage's first unit.

    The projection of a pre-activation unit sees an already normalised and activated input
    (``relu(norm1(x))``), so, as in the paper and timm, it is a bare 1x1 conv (preceded by an
    average pool when ``avg_down``): ``downsample.0`` is the conv (``downsample.1`` after the
    pool with ``avg_down``).
    """
    first = layer[0]
    if first.downsample is not None:
        first.downsample = nn.Sequential(*list(first.downsample)[:-1])
    return layer


@MODELS.register_module()
class ResNetV2(ResNet):
    """Pre-activation ResNet (ResNetV2) backbone.

    Paper: He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016
    (arXiv 1603.05027).

    Stages of :class:`PreActBasicBlock` (depth 18/34) or :class:`PreActBottleneck`
    (50/101/152/200). Because a pre-activation stage ends with a raw sum, every stage listed in
    ``out_indices`` gets its own output norm + activation (``out_norm{i}``, ``i`` = 1-based stage):
    the returned maps are normalised (what an FPN or a classifier head expects), while the trunk
    itself continues with the un-normalised sum as the paper prescribes. For the last stage this
    is the paper's (and timm's) final BN-ReLU. Stages not listed in ``out_indices`` build no
    output norm.

    The default layout is timm's ``resnetv2_50``: a 7x7/2 stem conv with no norm of its own (the
    first unit pre-activates it, as in BiT) and a 3x3/2 max-pool; timm weights load after
    ``tools/model_converters/timm_resnetv2_to_mmresfam.py``. ``stem_norm=True`` gives the original
    fb.resnet.torch stem (conv-BN-ReLU-maxpool, the one of :class:`ResNet`); ``deep_stem=True``
    gives mmpretrain's three 3x3 ConvModules (each with BN-ReLU).

    Args:
        depth (int): One of 18, 34, 50, 101, 152, 200.
        stem_norm (bool): Put BN-ReLU after the stem conv (fb.resnet.torch) instead of the
            norm-free BiT/timm stem. Ignored with ``deep_stem=True``. Default: False.
        act_cfg (dict): Activation of the output norms. Default: ``dict(type='ReLU')``.
        **kwargs: Every argument of :class:`ResNet` (``plugins``, ``contract_dilation``,
            ``pretrained``, ``in_channels``, ``stem_channels``, ``base_channels``, ``expansion``,
            ``num_stages``, ``strides``, ``dilations``, ``out_indices``, ``style``,
            ``deep_stem``, ``avg_down``, ``frozen_stages`` (also freezes the output norms of the
            frozen stages), ``conv_cfg``, ``norm_cfg``, ``norm_eval``, ``with_cp``,
            ``zero_init_residual`` (zeroes the last conv of each unit, so every unit starts as the
            identity and still trains), ``drop_path_rate``, ``init_cfg``).

    Example:
        >>> import torch
        >>> from mmresfam.models import ResNetV2
        >>> model = ResNetV2(depth=18, out_indices=(0, 1, 2, 3)).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4), (1, 512, 2, 2)]
    """

    arch_settings = {
        18: (PreActBasicBlock, (2, 2, 2, 2)),
        34: (PreActBasicBlock, (3, 4, 6, 3)),
        50: (PreActBottleneck, (3, 4, 6, 3)),
        101: (PreActBottleneck, (3, 4, 23, 3)),
        152: (PreActBottleneck, (3, 8, 36, 3)),
        200: (PreActBottleneck, (3, 24, 36, 3)),
    }

    def __init__(self,
                 depth,
                 stem_norm: bool = False,
                 act_cfg: Optional[dict] = None,
                 **kwargs):
        self.stem_norm = stem_norm
        super().__init__(depth, **kwargs)
        self.out_act = build_activation_layer(act_cfg or dict(type='ReLU'))
        for i in self.out_indices:
            self.add_module(f'out_norm{i + 1}',
                            build_norm_layer(self.norm_cfg, self.out_channels[i])[1])
        self._freeze_stages()

    def init_weights(self):
        """:class:`ResNet`'s initialisation; ``zero_init_residual`` zeroes the last conv of
        every pre-activation unit (see :meth:`PreActMixin.zero_init_last`)."""
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if self.zero_init_residual and not pretrained:
            for m in self.modules():
                if isinstance(m, PreActMixin):
                    m.zero_init_last()

    def _make_stem_layer(self, in_channels, stem_channels):
        super()._make_stem_layer(in_channels, stem_channels)
        if not self.deep_stem and not self.stem_norm:
            # BiT/timm stem: the conv output goes straight to the max-pool
            self.add_module(self.norm1_name, nn.Identity())
            self.relu = nn.Identity()

    def make_res_layer(self, **kwargs):
        """Build one stage of pre-activation units (no norm on the projection shortcut)."""
        return strip_projection_norm(super().make_res_layer(**kwargs))

    def _freeze_stages(self):
        super()._freeze_stages()
        for i in range(self.frozen_stages):
            norm = getattr(self, f'out_norm{i + 1}', None)
            if norm is not None:
                norm.eval()
                for param in norm.parameters():
                    param.requires_grad = False

    def forward(self, x):
        x = self.forward_stem(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(self.out_act(getattr(self, f'out_norm{i + 1}')(x)))
        return tuple(outs)
