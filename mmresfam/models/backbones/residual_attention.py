"""Residual Attention Network (Wang et al., 2017, "Residual Attention Network for Image
Classification", CVPR 2017, arXiv 1704.06904).

An attention module has a trunk branch ``T`` (``t`` pre-activation units) and a soft mask branch
``M``: a small hourglass that max-pools and applies residual units down to a coarse resolution
(bottom-up sweep), then interpolates back up with residual units (top-down feedback), with one
skip unit between matching resolutions, and ends with BN-ReLU-1x1 conv twice and a gate
(sigmoid for the paper's default *mixed* attention). Attention residual learning combines them as
``H = (1 + M(x)) * T(x)``. ``p`` units come before the split and ``p`` after the combination.

Every residual unit is the pre-activation bottleneck of :mod:`.resnetv2`, and the backbone is a
:class:`ResNetV2` (stem, stage, ``out_indices``/``frozen_stages``/``norm_eval``/``with_cp``/
``init_cfg`` semantics) whose stages 1-3 are "projection unit + attention modules".
"""
from typing import Callable, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule, Sequential

from mmresfam.registry import MODELS
from ..attentions.base import AttentionMapMixin
from ..utils import check_choice, check_int_range
from .resnetv2 import PreActBottleneck, ResNetV2

__all__ = ['SoftMaskBranch', 'AttentionModule', 'ResidualAttentionNet']

ATTENTION_TYPES = ('mixed', 'channel', 'spatial')


class SoftMaskBranch(BaseModule):
    """The soft mask branch of an attention module: hourglass of residual units, then a gate.

    With ``depth = d >= 1``: ``d`` levels, each a 3x3/2 max-pool followed by ``r`` units (``2r``
    at the coarsest level); a skip unit taps each of the first ``d - 1`` levels (so ``d - 1``
    skip connections). On the way up, the map is bilinearly interpolated to the *exact* size of
    the next finer level, its skip is added and ``r`` units follow; a last interpolation returns to
    the size of the trunk output. With ``d = 0`` (the small-input variant's last stage) the branch
    is ``2r`` units at the input resolution. Then BN-ReLU-conv1x1, BN-ReLU-conv1x1 and the gate:

    * ``'mixed'`` (paper default, f1): ``sigmoid(s)`` on every channel and position, in [0, 1];
    * ``'channel'`` (f2): ``s / ||s||_2`` over the channels at each position, in [-1, 1];
    * ``'spatial'`` (f3): ``sigmoid((s - mean_c) / std_c)`` with the spatial mean/std of each
      channel, in [0, 1].

    Args:
        channels (int): Channels of the input, of the units and of the mask.
        depth (int): Number of max-pool levels ``d`` (>= 0).
        make_unit (callable): ``make_unit()`` returns one residual unit ``channels -> channels``.
        r (int): Units per level on each side of the hourglass (paper: 1). Default: 1.
        attention_type (str): ``'mixed'``, ``'channel'`` or ``'spatial'``. Default: 'mixed'.
        conv_cfg (dict, optional): Config of the 1x1 convs. Default: None.
        norm_cfg (dict): Config of the two norms of the mask head. Default: ``dict(type='BN')``.
        act_cfg (dict): Activation of the mask head. Default: ``dict(type='ReLU')``.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    def __init__(self,
                 channels: int,
                 depth: int,
                 make_unit: Callable[[], nn.Module],
                 r: int = 1,
                 attention_type: str = 'mixed',
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_int_range('depth', depth, 0, owner='SoftMaskBranch')
        check_int_range('r', r, 1, owner='SoftMaskBranch')
        check_choice('attention_type', attention_type, ATTENTION_TYPES, 'SoftMaskBranch')
        self.channels = channels
        self.depth = depth
        self.attention_type = attention_type
        num_levels = max(depth, 1)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if depth else nn.Identity()
        self.down = nn.ModuleList(
            Sequential(*[make_unit() for _ in range(r * (2 if k == num_levels - 1 else 1))])
            for k in range(num_levels))
        self.skips = nn.ModuleList(make_unit() for _ in range(num_levels - 1))
        self.up = nn.ModuleList(
            Sequential(*[make_unit() for _ in range(r)]) for _ in range(num_levels - 1))
        head = []
        for i in range(2):
            head += [build_norm_layer(norm_cfg, channels)[1], build_activation_layer(act_cfg),
                     build_conv_layer(conv_cfg, channels, channels, 1, bias=False)]
        self.head = Sequential(*head)

    def gate(self, s: torch.Tensor) -> torch.Tensor:
        """Turn the head output into the mask (see the class docstring)."""
        if self.attention_type == 'channel':
            return F.normalize(s, p=2, dim=1)
        if self.attention_type == 'spatial':
            mean = s.mean(dim=(2, 3), keepdim=True)
            std = s.std(dim=(2, 3), keepdim=True, unbiased=False)
            s = (s - mean) / (std + 1e-5)
        return torch.sigmoid(s)

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:
        """Mask for ``x`` (the module input after the ``p`` units), of spatial size ``size``."""
        skips: List[torch.Tensor] = []
        for k, units in enumerate(self.down):
            x = units(self.pool(x))
            if k < len(self.skips):
                skips.append(self.skips[k](x))
        for k in range(len(self.up) - 1, -1, -1):
            x = F.interpolate(x, size=skips[k].shape[-2:], mode='bilinear',
                              align_corners=False) + skips[k]
            x = self.up[k](x)
        if self.depth:
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        return self.gate(self.head(x))


class AttentionModule(AttentionMapMixin, BaseModule):
    """One attention module: ``post((1 + M(x')) * T(x'))`` with ``x' = pre(x)``.

    Paper: Wang et al., "Residual Attention Network for Image Classification", CVPR 2017.

    ``pre``/``post`` are ``p`` units each, ``trunk`` is ``t`` units and ``mask`` a
    :class:`SoftMaskBranch` of the given ``mask_depth``. When ``record_attention`` is True (a plain
    attribute, default False) the forward stores the mask, detached, shape ``(B, C, H, W)``, in
    ``last_attention_map``; nothing is stored otherwise.

    Args:
        channels (int): Input = output channels.
        mask_depth (int): Max-pool levels of the mask branch (``d - 1`` skip connections).
        make_unit (callable): ``make_unit(drop_path_rate)`` returns one residual unit
            ``channels -> channels``.
        p (int): Units before the split and after the combination (paper: 1). Default: 1.
        t (int): Units of the trunk branch (paper: 2). Default: 2.
        r (int): Units per level of the mask branch (paper: 1). Default: 1.
        attention_type (str): ``'mixed'``, ``'channel'`` or ``'spatial'``. Default: 'mixed'.
        drop_path_rate (float): Stochastic depth of the ``pre``/``trunk``/``post`` units (the mask
            branch units never drop). Default: 0.
        conv_cfg, norm_cfg, act_cfg (dict): Configs of the mask head (see
            :class:`SoftMaskBranch`).
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    def __init__(self,
                 channels: int,
                 mask_depth: int,
                 make_unit: Callable[[float], nn.Module],
                 p: int = 1,
                 t: int = 2,
                 r: int = 1,
                 attention_type: str = 'mixed',
                 drop_path_rate: float = 0.,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_int_range('p', p, 0, owner='AttentionModule')
        check_int_range('t', t, 1, owner='AttentionModule')
        self.in_channels = self.out_channels = channels
        self.pre = Sequential(*[make_unit(drop_path_rate) for _ in range(p)])
        self.trunk = Sequential(*[make_unit(drop_path_rate) for _ in range(t)])
        self.mask = SoftMaskBranch(channels, mask_depth, lambda: make_unit(0.), r=r,
                                   attention_type=attention_type, conv_cfg=conv_cfg,
                                   norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.post = Sequential(*[make_unit(drop_path_rate) for _ in range(p)])

    def branches(self, x: torch.Tensor):
        """``(T, M)``: trunk output and mask for the module input ``x`` (after ``pre``)."""
        x = self.pre(x)
        trunk = self.trunk(x)
        return trunk, self.mask(x, trunk.shape[-2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trunk, mask = self.branches(x)
        self._store_map(mask)
        return self.post((1 + mask) * trunk)


@MODELS.register_module()
class ResidualAttentionNet(ResNetV2):
    """Residual Attention Network backbone (Attention-56/92 and their 32x32-input variants).

    Paper: Wang et al., "Residual Attention Network for Image Classification", CVPR 2017
    (arXiv 1704.06904).

    ImageNet layout (``'attention56'``/``'attention92'``): conv7x7/2-BN-ReLU, max-pool, then
    four stages of widths 256/512/1024/2048 (strides 1/2/2/2). Stages 1-3 are one projection unit
    followed by ``m1``/``m2``/``m3`` :class:`AttentionModule` (1/1/1 for Attention-56, 1/2/3 for
    Attention-92) whose mask branches have 3/2/1 max-pool levels, i.e. 2/1/0 skip connections;
    stage 4 is three units. The ``-cifar`` variants (``'attention56-cifar'``,
    ``'attention92-cifar'``, the paper's 32x32 networks as in the common PyTorch port) use a
    conv3x3/1-BN-ReLU stem without max-pool, widths 128/256/512/1024 (``stem_channels`` =
    ``base_channels`` = 32), strides 1/2/2/1 and mask depths 2/1/0. ``stem_channels``,
    ``base_channels`` and ``strides`` may be overridden for either layout.

    As in :class:`ResNetV2`, each stage in ``out_indices`` is returned through its own BN-ReLU
    (``out_norm{i}``; for the last stage, the paper's final BN-ReLU), so ``out_indices=(0, 1, 2,
    3)`` feeds an FPN with ``out_channels`` = ``[256, 512, 1024, 2048]`` (ImageNet layout).

    Input size: the map entering a mask branch with ``d`` max-pools must be at least ``2**d`` px on
    each side (so that every pool halves it); ``min_input_size`` is the smallest input that
    satisfies every stage (29 px for the ImageNet layout, 4 for the ``-cifar`` layout) and smaller
    inputs raise a ``ValueError`` naming it. Any size above works, odd and non-square included:
    the mask branch interpolates to the exact size of each skip tensor and of the trunk.

    Dilation (``strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)``) is supported: every unit of a stage,
    those inside its attention modules included, uses the stage dilation; the mask branches pool
    relative to their input, whatever its stride.

    Args:
        arch (str): ``'attention56'``, ``'attention92'``, ``'attention56-cifar'`` or
            ``'attention92-cifar'``. Default: 'attention56'.
        p (int): Units before and after the trunk/mask split of each module. Default: 1.
        t (int): Units of each trunk branch. Default: 2.
        r (int): Units per level of each mask branch. Default: 1.
        attention_type (str): ``'mixed'`` (paper default), ``'channel'`` or ``'spatial'`` (the
            paper's ablations; see :class:`SoftMaskBranch`). Default: 'mixed'.
        **kwargs: Every argument of :class:`ResNetV2` / :class:`ResNet` (``out_indices``,
            ``frozen_stages``, ``norm_eval``, ``norm_cfg``, ``conv_cfg``, ``with_cp``,
            ``drop_path_rate``, ``zero_init_residual``, ``strides``, ``dilations``,
            ``contract_dilation``, ``plugins`` (applied to the projection units and to the
            stage-4 units, not inside attention modules), ``pretrained``, ``init_cfg``, ...).
            ``stem_norm`` is always True (the paper's conv-BN-ReLU stem).
    """

    arch_settings = {
        # arch: (unit, (attention modules in stages 1-3, units in stage 4))
        'attention56': (PreActBottleneck, (1, 1, 1, 3)),
        'attention92': (PreActBottleneck, (1, 2, 3, 3)),
        'attention56-cifar': (PreActBottleneck, (1, 1, 1, 3)),
        'attention92-cifar': (PreActBottleneck, (1, 2, 3, 3)),
    }
    # arch: max-pool levels of the mask branches of stages 1-3, and the 32x32-input stem
    arch_layouts = {
        'attention56': dict(mask_depths=(3, 2, 1), small_input=False),
        'attention92': dict(mask_depths=(3, 2, 1), small_input=False),
        'attention56-cifar': dict(mask_depths=(2, 1, 0), small_input=True),
        'attention92-cifar': dict(mask_depths=(2, 1, 0), small_input=True),
    }
    small_input_defaults = dict(stem_channels=32, base_channels=32, strides=(1, 2, 2, 1))

    def __init__(self,
                 arch: str = 'attention56',
                 p: int = 1,
                 t: int = 2,
                 r: int = 1,
                 attention_type: str = 'mixed',
                 **kwargs):
        owner = type(self).__name__
        if 'depth' in kwargs:  # ResNet's name for what arch selects here
            raise TypeError(f"{owner}: unexpected argument depth={kwargs['depth']!r}; the "
                            f'network is chosen with arch, one of {list(self.arch_settings)}')
        check_choice('arch', arch, list(self.arch_settings), owner)
        check_choice('attention_type', attention_type, ATTENTION_TYPES, owner)
        check_int_range('p', p, 0, owner=owner)
        check_int_range('t', t, 1, owner=owner)
        check_int_range('r', r, 1, owner=owner)
        if kwargs.get('dcn') is not None:
            raise ValueError(f'{owner}: dcn is not supported (the units inside attention '
                             'modules would keep plain convs)')
        if 'stem_norm' in kwargs:
            raise ValueError(f'{owner}: stem_norm is fixed to True (conv-BN-ReLU stem)')
        self.arch = arch
        self.p, self.t, self.r = p, t, r
        self.attention_type = attention_type
        layout = self.arch_layouts[arch]
        self.mask_depths = layout['mask_depths']
        self.small_input = layout['small_input']
        if self.small_input:
            kwargs = {**self.small_input_defaults, **kwargs}
        super().__init__(depth=arch, stem_norm=True, **kwargs)
        self.min_input_size = self._min_input_size()

    def _make_stem_layer(self, in_channels, stem_channels):
        super()._make_stem_layer(in_channels, stem_channels)
        if self.small_input and not self.deep_stem:
            self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, 3,
                                          stride=1, padding=1, bias=False)
        if self.small_input:
            self.maxpool = nn.Identity()

    def make_res_layer(self, num_blocks, drop_path_rate, **kwargs):
        """Stage 1-3: a projection unit then ``num_blocks`` attention modules; stage 4: units."""
        stage_idx = len(self.res_layers)
        if stage_idx >= len(self.mask_depths):
            return super().make_res_layer(num_blocks=num_blocks,
                                          drop_path_rate=drop_path_rate, **kwargs)
        layer = super().make_res_layer(num_blocks=1, drop_path_rate=drop_path_rate[:1],
                                       **kwargs)
        channels = kwargs['out_channels']
        unit_cfg = {k: kwargs[k] for k in ('expansion', 'dilation', 'style', 'with_cp',
                                          'conv_cfg', 'norm_cfg')}

        def make_unit(rate):
            return PreActBottleneck(channels, channels, drop_path_rate=rate, **unit_cfg)

        for rate in drop_path_rate:
            layer.append(AttentionModule(
                channels, self.mask_depths[stage_idx], make_unit, p=self.p, t=self.t, r=self.r,
                attention_type=self.attention_type, drop_path_rate=rate,
                conv_cfg=kwargs['conv_cfg'], norm_cfg=kwargs['norm_cfg']))
        return layer

    def _min_input_size(self) -> int:
        """Smallest input side for which every mask branch sees at least ``2**d`` px."""
        stride = 1 if self.small_input else 4  # stem conv (+ max-pool)
        need = 1
        for i, depth in enumerate(self.mask_depths[:self.num_stages]):
            stride *= self.strides[i]
            # every stride-2 step maps h -> ceil(h / 2), so the map is ceil(H / stride) px
            need = max(need, stride * (2**depth - 1) + 1)
        return need

    def attention_modules(self) -> List[AttentionModule]:
        """All attention modules, in forward order."""
        return [m for m in self.modules() if isinstance(m, AttentionModule)]

    @torch.no_grad()
    def get_attention_maps(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Run the backbone on ``x`` and return the mask of every attention module.

        Each map has shape ``(B, C, H, W)`` (the module's channels and resolution). The
        ``record_attention`` flags are restored afterwards; the train/eval mode is unchanged.
        """
        modules = self.attention_modules()
        flags = [m.record_attention for m in modules]
        for m in modules:
            m.record_attention = True
        try:
            self(x)
            return [m.last_attention_map for m in modules]
        finally:
            for m, flag in zip(modules, flags):
                m.record_attention = flag

    def forward(self, x):
        if x.shape[-2] < self.min_input_size or x.shape[-1] < self.min_input_size:
            raise ValueError(
                f'{type(self).__name__}({self.arch!r}): input of {x.shape[-2]}x{x.shape[-1]} is '
                f'too small for the mask branches (max-pool levels {self.mask_depths}); the '
                f'minimum size is {self.min_input_size}x{self.min_input_size}')
        return super().forward(x)
