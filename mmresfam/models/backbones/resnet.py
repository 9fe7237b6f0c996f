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
* ``channels_last``: the memory format. By default (``'cpu'``) the network runs channels-last
  (NHWC) while it is on the CPU, where oneDNN's convolutions and pooling run faster in it
  (4-D weights converted once per device, the input on entry, the outputs handed back
  contiguous), and in mmpretrain's NCHW layout on other devices.

Family members subclass :class:`ResNet`, :class:`BasicBlock`, :class:`Bottleneck` and override the
one thing that differs: ``arch_settings``, their own arguments turned into ``block_args``
(:func:`add_block_args`), and in a block the strided 3x3 conv (``make_spatial_conv``), the norm
positions (``norm_channels``) or ``residual``. Block widths come from one rule,
:func:`bottleneck_width`, computed before any layer is built.
"""
import warnings
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmcv.cnn.bricks.drop import DropPath as _DropPath
from mmengine.model import BaseModule
from mmpretrain.models.backbones.resnet import BasicBlock as _BasicBlock
from mmpretrain.models.backbones.resnet import Bottleneck as _Bottleneck
from mmpretrain.models.backbones.resnet import ResLayer as _ResLayer
from mmpretrain.models.backbones.resnet import ResNet as _ResNet
from mmpretrain.models.backbones.resnet import get_expansion

from mmresfam.registry import MODELS
from ..utils import (PluginMixin, check_choice, check_depth, check_divisible, check_int_range,
                     plugins_for_stage, validate_plugins)
from ..utils.checks import check_float_range

# mmpretrain's threshold: a smaller drop path rate builds no DropPath module
EPS = 1.0e-5
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


def bottleneck_width(planes: int, groups: int = 1, width_per_group: int = 4,
                     base_channels: int = 64, owner: str = '',
                     width_name: str = 'width_per_group') -> int:
    """Width of a bottleneck's 3x3 conv: the ResNeXt rule in its OpenMMLab form.

    ``planes`` (= ``out_channels // expansion``) when ``groups == 1`` (plain ResNet; then
    ``width_per_group`` is not used, as in MMPreTrain's and MMDetection's ResNeXt and ResNeSt),
    else ``groups * width_per_group * planes // base_channels``: ``groups * width_per_group``
    at the first stage, doubled every stage (128 for ResNeXt 32x4d at stage 1). Equal to timm's
    ``int(planes * base_width / 64) * cardinality`` for every published model.

    Args:
        planes (int): ``out_channels // expansion`` of the block.
        groups (int): Cardinality of the 3x3 conv (>= 1).
        width_per_group (int): Channels per group at the first stage (>= 1).
        base_channels (int): Planes of the first stage (the backbone's ``base_channels``);
            must divide ``planes`` when ``groups > 1``.
        owner (str): Class name for error messages.
        width_name (str): The caller's name of ``width_per_group`` (ResNeSt: ``base_width``).
    """
    check_int_range('groups', groups, 1, owner=owner)
    check_int_range(width_name, width_per_group, 1, owner=owner)
    if groups == 1:
        return planes
    check_int_range('base_channels', base_channels, 1, owner=owner)
    check_divisible('mid_channels (out_channels // expansion)', planes, base_channels,
                    'base_channels', owner)
    return groups * width_per_group * planes // base_channels


class ResidualBlockMixin(ResidualForwardMixin, PluginMixin):
    """What every residual block here shares: its attributes, its ``conv{i}``/``norm{i}``
    layers built once from a list, the activation, shortcut, drop path and plugins.

    A block's ``__init__`` calls :meth:`init_block` (attributes only), builds its convs and
    hands them with the channels of the norm after each to :meth:`add_layers`, then calls
    :meth:`finish_block`. Module names, order and keys are those of mmpretrain's blocks
    (``conv1``, ``bn1``, ``conv2``, ``bn2``, ..., ``downsample``, then plugins).
    """

    def init_block(self, in_channels, out_channels, expansion, stride, dilation, style,
                   with_cp, conv_cfg, norm_cfg, init_cfg):
        BaseModule.__init__(self, init_cfg=init_cfg)
        owner = type(self).__name__
        check_choice('style', style, ('pytorch', 'caffe'), owner)
        check_int_range('expansion', expansion, 1, owner=owner)
        check_divisible('out_channels', out_channels, expansion, 'expansion', owner)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.expansion = expansion
        self.mid_channels = out_channels // expansion
        self.stride = stride
        self.dilation = dilation
        self.style = style
        self.with_cp = with_cp
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        # stride on the 3x3 conv (pytorch) or on the first 1x1 conv (caffe)
        self.conv1_stride, self.conv2_stride = (1, stride) if style == 'pytorch' else (stride, 1)

    def add_layers(self, layers):
        """Register ``conv{i}`` and, where its channel count is not None, the norm after it
        (``bn{i}`` for BN, named by mmcv's ``build_norm_layer``) for ``(conv, norm_channels)``
        in ``layers``; ``norm{i}_name`` is None for a conv without a norm of its own."""
        for i, (conv, norm_channels) in enumerate(layers, 1):
            setattr(self, f'conv{i}', conv)
            name = None
            if norm_channels is not None:
                name, norm = build_norm_layer(self.norm_cfg, norm_channels, postfix=i)
                self.add_module(name, norm)
            setattr(self, f'norm{i}_name', name)

    def finish_block(self, downsample, act_cfg, drop_path_rate, plugins, plugin_channels):
        self.relu = build_activation_layer(act_cfg)
        self.downsample = downsample
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > EPS else nn.Identity()
        self.build_plugins(plugins, plugin_channels)

    def conv(self, in_channels, out_channels, kernel_size, stride=1, dilation=1, groups=1,
             padding=None, cfg=None):
        """A bias-free conv of this block (``conv_cfg`` unless ``cfg`` is given), padded to
        keep the size at stride 1 unless ``padding`` is given."""
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        return build_conv_layer(self.conv_cfg if cfg is None else cfg, in_channels,
                                out_channels, kernel_size, stride=stride, padding=padding,
                                dilation=dilation, groups=groups, bias=False)


class BasicBlock(ResidualBlockMixin, _BasicBlock):
    """mmpretrain's ``BasicBlock`` (same keys, same function) with plugins at
    ``after_conv1``/``after_conv2``.

    ``conv1`` (3x3, the block's stride and dilation) -> ``bn1`` -> ReLU -> ``conv2`` (3x3)
    -> ``bn2``; a subclass that replaces the strided 3x3 conv overrides
    :meth:`make_spatial_conv`, one that moves the norms overrides :meth:`norm_channels`.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expansion (int): ``out_channels / mid_channels``. Default: 1.
        stride (int): Stride of ``conv1``. Default: 1.
        dilation (int): Dilation of ``conv1``. Default: 1.
        downsample (nn.Module, optional): Shortcut projection. Default: None.
        style (str): ``'pytorch'`` or ``'caffe'`` (no effect on a basic block). Default:
            'pytorch'.
        with_cp (bool): Gradient checkpointing. Default: False.
        conv_cfg (dict, optional): Conv config. Default: None.
        norm_cfg (dict): Norm config. Default: ``dict(type='BN')``.
        drop_path_rate (float): Stochastic depth rate of the residual branch. Default: 0.
        act_cfg (dict): Activation config. Default: ``dict(type='ReLU', inplace=True)``.
        base_channels (int): The backbone's ``base_channels`` (every block receives it; a
            basic block's width does not depend on it). Default: 64.
        plugins (list[dict], optional): Plugin entries of this stage (``cfg``, ``position``).
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    # MMDetection's basic block takes no plugins: names keep the position (see plugins.py)
    plugin_names_by_position = True

    def __init__(self, in_channels, out_channels, expansion=1, stride=1, dilation=1,
                 downsample=None, style='pytorch', with_cp=False, conv_cfg=None,
                 norm_cfg=dict(type='BN'), drop_path_rate=0.0,
                 act_cfg=dict(type='ReLU', inplace=True), base_channels=64, plugins=None,
                 init_cfg=None):
        self.init_block(in_channels, out_channels, expansion, stride, dilation, style, with_cp,
                        conv_cfg, norm_cfg, init_cfg)
        self.act_cfg = act_cfg
        conv1, norm1 = self.make_spatial_conv()
        norm1, norm2 = self.norm_channels(norm1)
        self.add_layers([(conv1, norm1),
                         (self.conv(self.mid_channels, out_channels, 3), norm2)])
        self.finish_block(downsample, act_cfg, drop_path_rate, plugins,
                          dict(after_conv1=self.mid_channels, after_conv2=out_channels))

    def make_spatial_conv(self):
        """``conv1`` (``in -> mid``, the block's stride) and the channels of its norm (None:
        the module brings its own norm and activation)."""
        return self.conv(self.in_channels, self.mid_channels, 3, stride=self.stride,
                         dilation=self.dilation), self.mid_channels

    def norm_channels(self, norm1):
        """Channels of ``norm1``/``norm2`` (post-activation: the outputs of the convs)."""
        return norm1, self.out_channels

    def residual(self, x):
        out = self.conv1(x)
        if self.norm1_name is not None:
            out = self.relu(self.norm1(out))
        out = self.forward_plugins(out, 'after_conv1')
        out = self.norm2(self.conv2(out))
        return self.forward_plugins(out, 'after_conv2')


class Bottleneck(ResidualBlockMixin, _Bottleneck):
    """mmpretrain's ``Bottleneck`` (same keys, same function) with the ResNeXt width rule,
    MMDetection's ``dcn`` and plugins at ``after_conv1/2/3``.

    ``conv1`` (1x1) -> ``bn1`` -> ReLU -> ``conv2`` (3x3, ``groups``, ``dcn``) -> ``bn2`` ->
    ReLU -> ``conv3`` (1x1) -> ``bn3``. The width is computed once by
    :func:`bottleneck_width` before any layer is built. ``after_conv3`` runs after ``norm3``
    and before the residual addition, where SE-style attention sits in SENet, CBAM and SGE.
    A block that replaces the 3x3 conv (split attention, SK unit, ...) overrides
    :meth:`make_spatial_conv`; one that moves the norms overrides :meth:`norm_channels`.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expansion (int): ``out_channels / planes``. Default: 4.
        stride (int): Stride of the block. Default: 1.
        dilation (int): Dilation of the 3x3 conv. Default: 1.
        downsample (nn.Module, optional): Shortcut projection. Default: None.
        style (str): ``'pytorch'`` (stride on the 3x3 conv) or ``'caffe'`` (on ``conv1``).
            Default: 'pytorch'.
        with_cp (bool): Gradient checkpointing. Default: False.
        conv_cfg (dict, optional): Conv config. Default: None.
        norm_cfg (dict): Norm config. Default: ``dict(type='BN')``.
        act_cfg (dict): Activation config. Default: ``dict(type='ReLU', inplace=True)``.
        drop_path_rate (float): Stochastic depth rate of the residual branch. Default: 0.
        groups (int): Cardinality of the 3x3 conv (ResNeXt). Default: 1.
        width_per_group (int): Channels per group at the first stage, used when
            ``groups > 1`` (see :func:`bottleneck_width`). Default: 4.
        base_channels (int): Planes of the first stage (the backbone's ``base_channels``).
            Default: 64.
        dcn (dict, optional): MMDetection's deformable conv for the 3x3 conv, e.g.
            ``dict(type='DCN', deform_groups=1, fallback_on_stride=False)`` (mmcv's
            ``DeformConv2dPack``; ``'DCNv2'``: ``ModulatedDeformConv2dPack``), built with
            ``build_conv_layer(dcn, ...)``. ``fallback_on_stride=True`` keeps a plain conv in
            a block whose 3x3 conv is strided. Needs ``conv_cfg=None``. Default: None.
        plugins (list[dict], optional): Plugin entries of this stage (``cfg``, ``position``).
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    #: whether :meth:`make_spatial_conv` honours ``dcn`` (False where the 3x3 conv is
    #: replaced by a module that has no deformable form)
    supports_dcn = True

    def __init__(self, in_channels, out_channels, expansion=4, stride=1, dilation=1,
                 downsample=None, style='pytorch', with_cp=False, conv_cfg=None,
                 norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU', inplace=True),
                 drop_path_rate=0.0, groups=1, width_per_group=4, base_channels=64,
                 dcn=None, plugins=None, init_cfg=None):
        self.init_block(in_channels, out_channels, expansion, stride, dilation, style, with_cp,
                        conv_cfg, norm_cfg, init_cfg)
        self.act_cfg = act_cfg
        self.dcn = dcn
        self.with_dcn = dcn is not None
        self.spatial_conv_cfg = self._spatial_conv_cfg(dcn)
        self.groups = groups
        self.width_per_group = width_per_group
        self.mid_channels = bottleneck_width(self.mid_channels, groups, width_per_group,
                                             base_channels, type(self).__name__,
                                             self.width_name)
        mid = self.mid_channels
        conv1 = self.conv(in_channels, mid, 1, stride=self.conv1_stride)
        conv2, norm2 = self.make_spatial_conv()
        norms = self.norm_channels(norm2)
        self.add_layers(zip((conv1, conv2, self.conv(mid, out_channels, 1)), norms))
        self.finish_block(downsample, act_cfg, drop_path_rate, plugins,
                          dict(after_conv1=mid, after_conv2=mid, after_conv3=out_channels))

    #: the name of ``width_per_group`` in this block's error messages
    width_name = 'width_per_group'

    def _spatial_conv_cfg(self, dcn):
        """The conv config of the 3x3 conv: ``dcn`` (less ``fallback_on_stride``) or
        ``conv_cfg``."""
        if dcn is None:
            return self.conv_cfg
        owner = type(self).__name__
        if not self.supports_dcn:
            raise ValueError(f'{owner}: dcn is not supported; its 3x3 conv is not a plain '
                             'convolution')
        if not isinstance(dcn, dict) or 'type' not in dcn:
            raise ValueError(f"{owner}: dcn must be a dict with a 'type' ('DCN' or 'DCNv2'), "
                             f'got {dcn!r}')
        if self.conv_cfg is not None:
            raise ValueError(f'{owner}: conv_cfg must be None with dcn (as in MMDetection), '
                             f'got {self.conv_cfg!r}')
        import mmcv.ops  # noqa: F401  (registers DCN and DCNv2 as conv layers)
        dcn = dict(dcn)
        fallback = dcn.pop('fallback_on_stride', False)
        if not isinstance(fallback, bool):
            raise ValueError(f'{owner}: dcn fallback_on_stride must be True or False, got '
                             f'{fallback!r}')
        return self.conv_cfg if fallback and self.conv2_stride > 1 else dcn

    def make_spatial_conv(self):
        """``conv2`` (3x3, ``mid -> mid``, stride ``conv2_stride``, ``groups``, deformable
        with ``dcn``) and the channels of its norm (None: the module brings its own norm and
        activation)."""
        return self.conv(self.mid_channels, self.mid_channels, 3, stride=self.conv2_stride,
                         dilation=self.dilation, groups=self.groups,
                         cfg=self.spatial_conv_cfg), self.mid_channels

    def norm_channels(self, norm2):
        """Channels of ``norm1..3`` (post-activation: the outputs of the convs)."""
        return self.mid_channels, norm2, self.out_channels

    def residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.forward_plugins(out, 'after_conv1')
        out = self.conv2(out)
        if self.norm2_name is not None:
            out = self.relu(self.norm2(out))
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


def add_block_args(kwargs: dict, **block_args) -> dict:
    """A backbone's ``kwargs`` with ``block_args`` added to its ``block_args`` entry.

    Family backbones turn their own arguments into block arguments with it, e.g.
    ``super().__init__(depth, **add_block_args(kwargs, groups=groups))``; an argument given
    both ways is a ``ValueError``.
    """
    given = kwargs.get('block_args') or {}
    if not isinstance(given, dict):
        return kwargs  # ResNet names the wrong type
    twice = sorted(set(given) & set(block_args))
    if twice:
        raise ValueError(f'block_args repeats {twice}, which this backbone takes as its own '
                         'arguments; give each once')
    return {**kwargs, 'block_args': {**given, **block_args}}


#: ``channels_last`` of every backbone unless a config says otherwise (see :class:`ResNet`)
CHANNELS_LAST_DEFAULT = 'cpu'


def _plain_convs(dcn: Optional[dict], conv_cfg: Optional[dict]) -> bool:
    """Whether every convolution is a ``torch.nn.Conv2d`` (no mmcv kernel on raw memory)."""
    return dcn is None and (conv_cfg is None or conv_cfg.get('type') in ('Conv', 'Conv2d'))


def _input_to_channels_last(module, args):
    if not module._nhwc:
        return None
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def _contiguous_state_dict(module, state_dict, prefix, local_metadata):
    # checkpoints keep MMPreTrain's NCHW tensors whatever layout the run used
    for key, value in state_dict.items():
        if (key.startswith(prefix) and type(value) is torch.Tensor and value.dim() == 4
                and not value.is_contiguous()):
            state_dict[key] = value.contiguous()


def _outputs_to_contiguous(module, args, outputs):
    # mmcv's CPU/CUDA kernels (RoIAlign, ...) index raw NCHW memory without .contiguous()
    if not module._nhwc:
        return None
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
        channels_last (bool | str): Memory format of the network. ``True``: channels-last
            (NHWC) on every device; ``'cpu'``: NHWC while the parameters are on the CPU and
            mmpretrain's NCHW elsewhere (the layout follows ``.to()``/``.cuda()``); ``False``:
            NCHW everywhere. In NHWC every 4-D weight is kept channels-last (converted once;
            loading a checkpoint or initialising keeps the format), the input is converted on
            entry to ``forward`` and the outputs are handed back contiguous (NCHW), because
            mmcv's kernels such as ``RoIAlign`` read raw NCHW memory and silently return wrong
            values for an NHWC tensor. Same values up to float rounding, same checkpoint keys,
            and ``state_dict()`` (so every checkpoint) holds contiguous NCHW tensors.
            Measured on 2-core CPUs (fp32, batch 8, 160-224 px; ``docs/benchmarks.md``) NHWC
            speeds up training and inference of every member; on GPUs it is not measured, so
            there it is opt-in (``True``). With ``dcn`` or a ``conv_cfg`` of another type than
            ``Conv2d`` (mmcv's ``DCN`` refuses NHWC tensors, ``DCNv2`` silently misreads
            them), ``'cpu'`` means NCHW and ``True`` is a ``ValueError``. Default: ``'cpu'``.
        dcn (dict, optional): MMDetection's deformable conv config for the 3x3 conv of the
            bottlenecks of the stages in ``stage_with_dcn``, e.g.
            ``dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)`` (see
            :class:`Bottleneck`). Bottleneck families only (ResNet 50+, ResNeXt, SE-ResNet,
            SE-ResNeXt, ResNeSt, ResNetV2 50+). Default: None.
        stage_with_dcn (Sequence[bool]): One bool per stage: which stages use ``dcn``.
            Default: ``(False, False, False, False)``.
        block_args (dict, optional): Extra keyword arguments of every block, the one way
            backbone arguments reach the blocks (timm's ``block_args``): e.g.
            ``dict(groups=32, width_per_group=4)`` makes the bottlenecks ResNeXt's. Family
            backbones fill it from their own arguments (:func:`add_block_args`). Every block
            also receives ``base_channels`` and its stage's ``plugins``. Default: None.
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
                 channels_last=CHANNELS_LAST_DEFAULT,
                 dcn: Optional[dict] = None,
                 stage_with_dcn: Sequence[bool] = (False, False, False, False),
                 block_args: Optional[dict] = None,
                 init_cfg=DEFAULT_INIT_CFG,
                 **kwargs):
        owner = type(self).__name__
        if not (isinstance(channels_last, bool) or channels_last == 'cpu'):
            raise ValueError(f"{owner}: channels_last={channels_last!r} is not supported; "
                             "allowed values are [True, False, 'cpu']")
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
        if not isinstance(out_indices, (list, tuple)) or not out_indices:
            raise ValueError(f'{owner}: out_indices must be a non-empty sequence of stage '
                             f'indices in [0, {num_stages - 1}], got {out_indices!r}')
        if any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_stages
               for i in out_indices):
            raise ValueError(f'{owner}: out_indices={tuple(out_indices)} must lie in '
                             f'[0, {num_stages - 1}] for num_stages={num_stages}')
        check_int_range('frozen_stages', kwargs.get('frozen_stages', -1), -1, num_stages,
                        owner)
        for name in ('in_channels', 'stem_channels', 'base_channels'):
            check_int_range(name, kwargs.get(name, 64 if name != 'in_channels' else 3), 1,
                            owner=owner)
        # 1.0 is allowed: the last block is then always dropped (exactly, see DropPath)
        check_float_range('drop_path_rate', kwargs.get('drop_path_rate', 0.), 0., 1., owner)
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
        if not isinstance(block_args, (dict, type(None))):
            raise TypeError(f'{owner}: block_args must be a dict or None, got '
                            f'{type(block_args).__name__}')
        self.block_args = dict(block_args or {})
        self.dcn, self.stage_with_dcn = self._check_dcn(dcn, stage_with_dcn, depth, num_stages)
        if channels_last and not _plain_convs(self.dcn, kwargs.get('conv_cfg')):
            if channels_last is True:
                raise ValueError(
                    f'{owner}: channels_last=True needs plain convolutions, but dcn='
                    f"{self.dcn!r} / conv_cfg={kwargs.get('conv_cfg')!r} use mmcv kernels "
                    "that need NCHW tensors; use channels_last=False or 'cpu'")
            channels_last = False  # 'cpu' falls back to NCHW
        self.channels_last = channels_last
        self._layout_device = None  # device type the layout was last set for
        super().__init__(depth, init_cfg=init_cfg, **kwargs)
        if channels_last:
            self._set_layout()
            # hooks rather than a forward override: subclasses' forwards get them too
            self.register_forward_pre_hook(_input_to_channels_last)
            self.register_forward_hook(_outputs_to_contiguous)
            self.register_state_dict_post_hook(_contiguous_state_dict)

    def _check_dcn(self, dcn, stage_with_dcn, depth, num_stages):
        """``dcn`` and ``stage_with_dcn`` as MMDetection takes them, or a ``ValueError``."""
        owner = type(self).__name__
        if (not isinstance(stage_with_dcn, (list, tuple))
                or any(not isinstance(s, bool) for s in stage_with_dcn)):
            raise ValueError(f'{owner}: stage_with_dcn must be a sequence of bools, one per '
                             f'stage, got {stage_with_dcn!r}')
        if dcn is None:
            if any(stage_with_dcn):
                raise ValueError(f'{owner}: stage_with_dcn={tuple(stage_with_dcn)} has no '
                                 'effect without dcn; give dcn=dict(type=...) too')
            return None, tuple(stage_with_dcn)
        if len(stage_with_dcn) != num_stages:
            raise ValueError(f'{owner}: stage_with_dcn has {len(stage_with_dcn)} entries but '
                             f'num_stages={num_stages}; give one bool per stage')
        if not isinstance(dcn, dict) or 'type' not in dcn:
            raise ValueError(f"{owner}: dcn must be a dict with a 'type' ('DCN' or 'DCNv2'), "
                             f'got {dcn!r}')
        block = self.arch_settings[depth][0]
        if not getattr(block, 'supports_dcn', False):
            raise ValueError(
                f'{owner}: dcn needs bottleneck blocks with a plain 3x3 conv; depth={depth} '
                f'builds {block.__name__} blocks (dcn works with ResNet/ResNeXt/SE-ResNet/'
                'SE-ResNeXt/ResNetV2 of depth 50+ and ResNeSt)')
        return dict(dcn), tuple(stage_with_dcn)

    def _first_weight(self):
        return next((p for p in self.parameters() if p.dim() == 4), None)

    @property
    def _nhwc(self) -> bool:
        """Whether the network runs channels-last now (read by the layout hooks)."""
        return self.channels_last is True or (self.channels_last == 'cpu'
                                              and self._layout_device == 'cpu')

    def _set_layout(self):
        """Put every 4-D parameter and buffer in the layout ``channels_last`` asks for on the
        device the parameters are on now (once per device, so no convolution copies its
        weight per call)."""
        weight = self._first_weight()
        self._layout_device = None if weight is None else weight.device.type
        fmt = torch.channels_last if self._nhwc else torch.contiguous_format
        with torch.no_grad():
            for tensor in (*self.parameters(), *self.buffers()):
                if tensor.dim() == 4 and not tensor.is_contiguous(memory_format=fmt):
                    tensor.data = tensor.data.contiguous(memory_format=fmt)

    def _apply(self, fn, *args, **kwargs):
        # .to()/.cuda()/.cpu()/.half() go through here: with channels_last='cpu' the layout
        # follows the device. Only a change of device redoes it, so an explicit
        # .to(memory_format=...) on the same device is kept.
        super()._apply(fn, *args, **kwargs)
        if getattr(self, 'channels_last', False):
            weight = self._first_weight()
            if weight is not None and weight.device.type != self._layout_device:
                self._set_layout()
        return self

    def init_weights(self):
        """mmpretrain's initialisation, refusing a ``Pretrained`` checkpoint that loads nothing.

        mmengine loads ``Pretrained`` weights with ``strict=False``, so a checkpoint whose keys do
        not match (a whole classifier without ``prefix='backbone.'``, another architecture) would
        leave the backbone randomly initialised with only a log line. That is a ``ValueError``
        here; everything else (partial matches, ``zero_init_residual`` skipped for pretrained
        weights) is mmpretrain's behaviour.
        """
        if not getattr(self, '_is_init', False):
            from ..utils import check_pretrained_keys
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
        """Build one stage: mmpretrain's stage arguments plus ``block_args``,
        ``base_channels``, the stage's plugins (and ``dcn``) for every block (the stage index is the
        number of stages built so far)."""
        stage_idx = len(self.res_layers)
        if self.dcn is not None:  # only bottlenecks take dcn (checked in __init__)
            kwargs['dcn'] = self.dcn if self.stage_with_dcn[stage_idx] else None
        return ResLayer(plugins=plugins_for_stage(self.plugins, stage_idx),
                        contract_dilation=self.contract_dilation,
                        base_channels=self.base_channels, **self.block_args, **kwargs)


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
