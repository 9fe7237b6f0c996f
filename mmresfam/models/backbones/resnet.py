"""ResNet (He et al., 2016, "Deep Residual Learning for Image Recognition").

The base of the whole family. :class:`ResNet` *is* mmpretrain's ``ResNet`` (same arguments,
same checkpoint keys, same ``frozen_stages``/``norm_eval``/``with_cp`` behaviour) plus what
detection and segmentation configs expect from a backbone:

* ``plugins``: MMDetection-style attention plug-ins at ``after_conv1/2/3`` of every block, so
  CBAM-, SGE-, scSE- or A2-ResNets are configs rather than classes;
* ``contract_dilation`` (MMSegmentation): the first block of a dilated stage uses half the
  dilation;
* ``pretrained`` (set by MMSegmentation's ``EncoderDecoder``): turned into a ``Pretrained``
  ``init_cfg``;
* every block honours ``drop_path_rate`` and ``with_cp`` (checkpointing through
  :class:`ResidualForwardMixin`);
* ``channels_last``: run the whole network in the channels-last memory format (4-D weights
  converted once, the input on entry, the outputs handed back contiguous), which oneDNN
  convolutions run faster on CPU.

Family members subclass :class:`ResNet`, :class:`BasicBlock`, :class:`Bottleneck` and override the
one thing that differs: usually ``arch_settings``, ``make_res_layer`` or a block's ``residual``.
"""
import warnings
from typing import Optional, Sequence

import torch
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks.drop import DropPath as _DropPath
from mmpretrain.models.backbones.resnet import BasicBlock as _BasicBlock
from mmpretrain.models.backbones.resnet import Bottleneck as _Bottleneck
from mmpretrain.models.backbones.resnet import ResLayer as _ResLayer
from mmpretrain.models.backbones.resnet import ResNet as _ResNet
from mmpretrain.models.backbones.resnet import get_expansion

from mmresfam.registry import MODELS
from ..utils import (PluginMixin, check_choice, check_depth, plugins_for_stage,
                     validate_plugins)

DEFAULT_INIT_CFG = [
    dict(type='Kaiming', layer=['Conv2d']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


class ResidualForwardMixin:
    """``out = post(shortcut(x) + drop_path(residual(x)))``, checkpointed when ``with_cp``.

    Blocks implement :meth:`residual` (the residual branch up to its last norm and plugins).
    Pre-activation blocks override :meth:`forward_inner` and :meth:`post_activation`.
    """

    def residual(self, x):
        raise NotImplementedError

    def shortcut(self, x):
        return x if self.downsample is None else self.downsample(x)

    def forward_inner(self, x):
        out = self.drop_path(self.residual(x))
        out += self.shortcut(x)  # in place, as MMPreTrain and timm: no new feature map
        return out

    def post_activation(self, out):
        return self.relu(out)

    def forward(self, x):
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self.forward_inner, x, use_reentrant=False)
        else:
            out = self.forward_inner(x)
        return self.post_activation(out)


class BasicBlock(ResidualForwardMixin, PluginMixin, _BasicBlock):
    """mmpretrain's ``BasicBlock`` with plugins at ``after_conv1``/``after_conv2``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        plugins (list[dict], optional): Plugin entries of this stage (``cfg``, ``position``).
        **kwargs: Every other argument of mmpretrain's ``BasicBlock`` (``expansion``,
            ``stride``, ``dilation``, ``downsample``, ``style``, ``with_cp``, ``conv_cfg``,
            ``norm_cfg``, ``drop_path_rate``, ``act_cfg``, ``init_cfg``).
    """

    def __init__(self, in_channels, out_channels, plugins=None, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        self.build_plugins(plugins, dict(after_conv1=self.mid_channels,
                                         after_conv2=self.out_channels))

    def residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.forward_plugins(out, 'after_conv1')
        out = self.norm2(self.conv2(out))
        return self.forward_plugins(out, 'after_conv2')


class Bottleneck(ResidualForwardMixin, PluginMixin, _Bottleneck):
    """mmpretrain's ``Bottleneck`` with plugins at ``after_conv1/2/3``.

    ``after_conv3`` runs after ``norm3`` and before the residual addition, where SE-style
    attention sits in SENet, CBAM and SGE.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        plugins (list[dict], optional): Plugin entries of this stage (``cfg``, ``position``).
        **kwargs: Every other argument of mmpretrain's ``Bottleneck``.
    """

    def __init__(self, in_channels, out_channels, plugins=None, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        self.build_plugins(plugins, dict(after_conv1=self.mid_channels,
                                         after_conv2=self.mid_channels,
                                         after_conv3=self.out_channels))

    def residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.forward_plugins(out, 'after_conv1')
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.forward_plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self.forward_plugins(out, 'after_conv3')


class DropPath(_DropPath):
    """mmcv's ``DropPath`` that is exact at ``drop_prob=1``.

    mmcv computes ``x / keep_prob * mask``, which is ``inf * 0 = NaN`` when ``keep_prob=0``;
    here a fully dropped path is exact zeros, so a block with drop path 1.0 in training returns
    its (activated) shortcut (the project's drop-path tests use rate 1.0).
    """

    def forward(self, x):
        if not self.training or self.drop_prob == 0:
            return x
        if self.drop_prob >= 1:
            return x * 0
        return super().forward(x)


class ResLayer(_ResLayer):
    """mmpretrain's ``ResLayer`` with MMSegmentation's ``contract_dilation``.

    With ``contract_dilation=True`` and ``dilation > 1`` the first block of the stage uses
    ``dilation // 2`` (as in MMSegmentation/DeepLab); all other arguments are forwarded to every
    block, exactly as mmpretrain does.
    """

    def __init__(self, block, num_blocks, in_channels, out_channels, dilation=1,
                 contract_dilation=False, **kwargs):
        first = dilation // 2 if contract_dilation and dilation > 1 else dilation
        dilations = iter([first] + [dilation] * (num_blocks - 1))
        expansion = get_expansion(block, kwargs.pop('expansion', None))

        def make_block(**block_kwargs):
            return block(dilation=next(dilations), **block_kwargs)

        super().__init__(make_block, num_blocks, in_channels, out_channels,
                         expansion=expansion, **kwargs)
        for blk in self:  # mmcv's DropPath gives NaN at drop_prob=1: use the exact one
            if type(getattr(blk, 'drop_path', None)) is _DropPath:
                blk.drop_path = DropPath(blk.drop_path.drop_prob)
        self.block = block

    def init_weights(self):
        """Run every block's own ``init_weights`` (and so its plugins'), as mmengine's
        ``Sequential`` does. mmpretrain's ``ResLayer`` is a plain ``nn.Sequential``, which stops
        mmengine's recursion, so a plugin that re-applies its own initialisation after the
        backbone's ``init_cfg`` (the zero-initialised A2 reconstruction) would never be asked
        to.
        """
        for block in self:
            if hasattr(block, 'init_weights') and not getattr(block, '_is_init', False):
                block.init_weights()


def _input_to_channels_last(module, args):
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def _outputs_to_contiguous(module, args, outputs):
    # mmcv's CPU/CUDA kernels (RoIAlign, ...) index raw NCHW memory without .contiguous()
    if isinstance(outputs, torch.Tensor):
        return outputs.contiguous()
    return type(outputs)(out.contiguous() for out in outputs)


@MODELS.register_module()
class ResNet(_ResNet):
    """ResNet backbone: mmpretrain's ``ResNet`` plus plugins, dilation contraction and
    ``pretrained``.

    Paper: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.

    Args:
        depth (int): Network depth, a key of ``arch_settings`` (18, 34, 50, 101, 152).
        plugins (list[dict], optional): MMDetection-style plugins, each
            ``dict(cfg=dict(type=...), stages=(bool, ...), position='after_conv1|2|3')``.
            ``stages`` has one bool per stage (default: every stage). Default: None.
        contract_dilation (bool): Halve the dilation of the first block of each dilated stage
            (MMSegmentation convention). Default: False.
        pretrained (str, optional): Deprecated checkpoint path, converted to
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``; MMSegmentation's
            ``EncoderDecoder`` sets it. Default: None.
        channels_last (bool): Run the network in the channels-last (NHWC) memory format:
            every 4-D weight is converted once here (loading a checkpoint or initialising
            keeps the format), the input on entry to ``forward``, and the outputs are handed
            back contiguous (NCHW), because mmcv's kernels such as ``RoIAlign`` read raw NCHW
            memory and silently return wrong values for an NHWC tensor. Same values up to
            float rounding, same checkpoint keys. Measured on a 2-core CPU (fp32, batch 8,
            160-224 px; ``docs/benchmarks.md``) it speeds up training and inference of every
            member; not measured on GPUs. Default: False (mmpretrain's layout).
        init_cfg (dict | list[dict]): Initialisation config. Default: Kaiming for convs,
            constant 1 for norms.
        **kwargs: Every argument of mmpretrain's ``ResNet``: ``in_channels``,
            ``stem_channels``, ``base_channels``, ``expansion``, ``num_stages``, ``strides``,
            ``dilations``, ``out_indices``, ``style``, ``deep_stem``, ``avg_down``,
            ``frozen_stages``, ``conv_cfg``, ``norm_cfg``, ``norm_eval``, ``with_cp``,
            ``zero_init_residual``, ``drop_path_rate``.
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int,
                 plugins: Optional[Sequence[dict]] = None,
                 contract_dilation: bool = False,
                 pretrained: Optional[str] = None,
                 channels_last: bool = False,
                 init_cfg=DEFAULT_INIT_CFG,
                 **kwargs):
        owner = type(self).__name__
        if not isinstance(channels_last, bool):
            raise TypeError(f'{owner}: channels_last must be True or False, got '
                            f'{channels_last!r}')
        check_depth(depth, self.arch_settings, owner)
        num_stages = kwargs.get('num_stages', 4)
        if not isinstance(num_stages, int) or not 1 <= num_stages <= 4:
            raise ValueError(f'{owner}: num_stages must be in [1, 4], got {num_stages!r}')
        # strides/dilations default to the first num_stages entries of the 4-stage defaults
        kwargs.setdefault('strides', (1, 2, 2, 2)[:num_stages])
        kwargs.setdefault('dilations', (1, 1, 1, 1)[:num_stages])
        for name in ('strides', 'dilations'):
            if len(kwargs[name]) != num_stages:
                raise ValueError(f'{owner}: {name} has {len(kwargs[name])} entries but '
                                 f'num_stages={num_stages}')
        out_indices = kwargs.get('out_indices', (3, ))
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'{owner}: out_indices={tuple(out_indices)} must lie in '
                             f'[0, {num_stages - 1}] for num_stages={num_stages}')
        check_choice('style', kwargs.get('style', 'pytorch'), ('pytorch', 'caffe'), owner)
        if pretrained is not None:
            if not isinstance(pretrained, str):
                raise TypeError(f'{owner}: pretrained must be a str or None, got '
                                f'{type(pretrained)}')
            warnings.warn('pretrained is deprecated, use init_cfg=dict(type="Pretrained", '
                          'checkpoint=...) instead', DeprecationWarning)
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        self.pretrained = pretrained
        self.plugins = validate_plugins(plugins, num_stages, owner=owner)
        self.contract_dilation = contract_dilation
        self.channels_last = channels_last
        super().__init__(depth, init_cfg=init_cfg, **kwargs)
        if channels_last:
            # every 4-D weight once, so no convolution copies its weight per call
            self.to(memory_format=torch.channels_last)
            # hooks rather than a forward override: subclasses' forwards get them too
            self.register_forward_pre_hook(_input_to_channels_last)
            self.register_forward_hook(_outputs_to_contiguous)

    def init_weights(self):
        """mmpretrain's initialisation, refusing a ``Pretrained`` checkpoint that loads nothing.

        mmengine loads ``Pretrained`` weights with ``strict=False``, so a checkpoint whose keys do
        not match (a whole classifier without ``prefix='backbone.'``, another architecture) would
        leave the backbone randomly initialised with only a log line. That is a ``ValueError``
        here; everything else (partial matches, ``zero_init_residual`` skipped for pretrained
        weights) is mmpretrain's behaviour.
        """
        if not getattr(self, '_is_init', False):
            from mmresfam.utils import check_pretrained_keys
            check_pretrained_keys(self, self.init_cfg)
        super().init_weights()

    @property
    def out_channels(self):
        """Channels of every stage output, in stage order."""
        return [getattr(self, name)[-1].out_channels for name in self.res_layers]

    def train(self, mode=True):
        """mmpretrain's ``train`` (re-freezes stages, applies ``norm_eval``), chainable."""
        super().train(mode)
        return self

    def forward_stem(self, x):
        """Stem and max-pool: the input of the first stage (what mmpretrain's ``forward`` runs
        before its stages; used by :class:`~.resnetv2.ResNetV2` and the stage-time tool)."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        return self.maxpool(x)

    def make_res_layer(self, **kwargs):
        """Build one stage; the stage index is the number of stages built so far."""
        stage_idx = len(self.res_layers)
        return ResLayer(plugins=plugins_for_stage(self.plugins, stage_idx),
                        contract_dilation=self.contract_dilation, **kwargs)


@MODELS.register_module()
class ResNetV1c(ResNet):
    """ResNetV1c: :class:`ResNet` with the deep 3x3 stem (``deep_stem=True``).

    Paper: He et al., "Bag of Tricks for Image Classification with CNNs", CVPR 2019.
    Same arguments as :class:`ResNet` except ``deep_stem``/``avg_down``, which are fixed.
    """

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=False, **kwargs)


@MODELS.register_module()
class ResNetV1d(ResNet):
    """ResNetV1d: deep stem and average-pool downsampling in the shortcut.

    Paper: He et al., "Bag of Tricks for Image Classification with CNNs", CVPR 2019.
    Same arguments as :class:`ResNet` except ``deep_stem``/``avg_down``, which are fixed.
    """

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
