"""Split attention (Zhang et al., 2020, "ResNeSt: Split-Attention Networks", arXiv 2004.08955).

A split-attention convolution computes ``R`` (radix) feature-map splits inside each of ``K``
cardinal groups with one grouped convolution (``K * R`` groups), then, per cardinal group,
sums the splits, pools them globally, runs ``FC -> norm -> ReLU -> FC`` and turns the logits
into weights over the ``R`` splits (softmax across the radix; a sigmoid gate when ``R = 1``).
The output is the weighted sum of the splits, ``channels`` wide.

The paper describes two equivalent layouts and this module ships both:

* :class:`SplitAttentionConv2d` -- the *cardinality-major* form used by the official code,
  MMPreTrain and timm (one grouped ``fc1``/``fc2`` for all cardinal groups). It is the one to
  use: it runs every step as a single tensor op, and its parameter names (``conv``, ``bn0``,
  ``fc1``, ``bn1``, ``fc2``) are MMPreTrain's, so MMPreTrain, official and timm ResNeSt weights
  load without renaming.
* :class:`RadixMajorSplitAttentionConv2d` -- the *radix-major* reference form (the paper's
  "radix-major" implementation, ``RadixMajorNaiveImp`` in the official tests), written as one
  small attention module per cardinal group and an explicit gather of the feature-map blocks
  ``r * K + k`` of each group. It exists to make the layout explicit and to prove the two forms
  compute the same function (:func:`copy_split_attention_weights` maps weights between them).

Channel layouts. The grouped conv writes its ``R * C`` output channels *radix-major*: block
``r * K + k`` (``C / K`` channels) is split ``r`` of cardinal group ``k``. ``fc2`` (grouped by
``K``) writes its ``R * C`` logits *cardinal-major*: block ``k * R + r``. The fast form
views the features as ``(B, R, C, H, W)`` and reorders the (tiny) logits to the same
radix-major ``(B, R, C)`` layout; pooling, softmax and the weighted sum are the memory-lean
:func:`~mmresfam.models.utils.attention_sum`.
"""
from typing import Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmresfam.registry import MODELS
from ..utils import attention_sum, check_divisible, check_int_range, pointwise_conv
from .base import attention_norm, reduction_arg

__all__ = [
    'SplitAttentionConv2d', 'RadixMajorSplitAttentionConv2d', 'attention_width',
    'copy_split_attention_weights', 'split_attention_correspondence'
]


def attention_width(in_channels: int, radix: int, reduction: int,
                    min_channels: int = 32) -> int:
    """The paper's attention (``fc1``) width: ``max(in_channels * radix // reduction,
    min_channels)``."""
    return max(in_channels * radix // reduction, min_channels)


def _check_split_attention_args(owner, in_channels, channels, kernel_size, groups, radix,
                                reduction):
    check_int_range('in_channels', in_channels, 1, owner=owner)
    check_int_range('channels', channels, 1, owner=owner)
    check_int_range('kernel_size', kernel_size, 1, owner=owner)
    check_int_range('groups', groups, 1, owner=owner)
    check_int_range('radix', radix, 1, owner=owner)
    # the split conv has groups * radix groups on both its input and its radix * channels output
    check_divisible('in_channels', in_channels, groups * radix, 'groups * radix', owner)
    check_divisible('channels', channels, groups, 'groups', owner)
    inter = attention_width(in_channels, radix, reduction)
    check_divisible('attention width max(in_channels * radix // reduction, 32)', inter,
                    groups, 'groups', owner)
    return inter


def _build_norm(norm_cfg: Optional[dict], channels: int, postfix: int) -> Tuple[str, nn.Module]:
    if norm_cfg is None:
        return f'bn{postfix}', nn.Identity()
    return build_norm_layer(norm_cfg, channels, postfix=postfix)


class _SplitConvMixin:
    """The split convolution (``conv`` -> ``bn0`` -> ReLU) shared by both forms."""

    def _build_split_conv(self, in_channels, channels, kernel_size, stride, padding, dilation,
                          groups, radix, reduction, reduction_factor, conv_cfg, norm_cfg):
        """Check the arguments, keep them as attributes, build ``conv``/``bn0``/ReLU and
        return the attention width."""
        channels = in_channels if channels is None else channels
        owner = type(self).__name__
        reduction = reduction_arg(owner, reduction, 4, 'reduction_factor', reduction_factor)
        inter_channels = _check_split_attention_args(
            owner, in_channels, channels, kernel_size, groups, radix, reduction)
        self.in_channels = in_channels
        self.channels = channels
        self.groups = groups
        self.radix = radix
        self.inter_channels = inter_channels
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        self.conv = build_conv_layer(
            conv_cfg, in_channels, channels * radix, kernel_size, stride=stride,
            padding=padding, dilation=dilation, groups=groups * radix, bias=False)
        self.norm0_name, norm0 = _build_norm(norm_cfg, channels * radix, 0)
        self.add_module(self.norm0_name, norm0)
        self.relu = nn.ReLU(inplace=True)
        return channels, inter_channels

    @property
    def norm0(self):
        return getattr(self, self.norm0_name)

    def split_conv(self, x):
        """``(B, in_channels, H, W)`` -> ``(B, radix * channels, H', W')``, radix-major."""
        return self.relu(self.norm0(self.conv(x)))


@MODELS.register_module()
class SplitAttentionConv2d(_SplitConvMixin, BaseModule):
    """Split-attention convolution, cardinality-major ("fast") form.

    Paper: Zhang et al., "ResNeSt: Split-Attention Networks", CVPR-W 2022 (arXiv 2004.08955).

    ``conv`` (``groups * radix`` groups, ``radix * channels`` outputs) -> ``bn0`` -> ReLU gives
    ``R`` splits per cardinal group; their sum is pooled, ``fc1`` (grouped by ``K``, with bias)
    -> ``bn1`` -> ReLU -> ``fc2`` (grouped, with bias) gives ``R`` logits per output channel;
    softmax over the radix (``R > 1``) or a sigmoid gate (``R = 1``) weights the splits, which
    are summed. Same function and same parameter names as MMPreTrain's/MMDetection's
    ``SplitAttentionConv2d``, the official ``SplAtConv2d`` and timm's ``SplitAttn``; unlike
    them it pools, weights and sums the splits with
    :func:`~mmresfam.models.utils.attention_sum`: fewer full-size passes forward and
    backward, equal up to float rounding.

    With ``in_channels`` first and defaults for everything else (``channels = in_channels``,
    3x3, "same" padding) it is also a conv-replacing MMDetection-style ``plugin``.

    Batch size 1 in training: the attention BN (``bn1``, on pooled vectors) goes through
    :func:`~mmresfam.models.attentions.attention_norm`, so it then uses its running statistics
    instead of crashing. (``bn0`` sees ``H * W`` values per channel, like the backbone's own
    norms, and is unaffected unless the map is ``1 x 1``.)

    Args:
        in_channels (int): Input channels (divisible by ``groups * radix``).
        channels (int, optional): Output channels (divisible by ``groups``). Default: None,
            i.e. ``in_channels``.
        kernel_size (int): Kernel size of the split conv. Default: 3.
        stride (int): Stride of the split conv. Default: 1.
        padding (int, optional): Padding of the split conv. Default: None, i.e.
            ``dilation * (kernel_size - 1) // 2`` ("same").
        dilation (int): Dilation of the split conv. Default: 1.
        groups (int): Cardinality ``K`` (>= 1). Default: 1.
        radix (int): Radix ``R`` (>= 1); 1 gives a sigmoid (SE-like) gate. Default: 2.
        reduction (int, optional): Reduction ratio ``r``: the attention width is
            ``max(in_channels * radix // r, 32)`` (must be divisible by ``groups``).
            Default: None, i.e. 4.
        conv_cfg (dict, optional): Config of the split conv (``fc1``/``fc2`` are plain 1x1
            convs). Default: None (``nn.Conv2d``).
        norm_cfg (dict, optional): Config of ``bn0`` and ``bn1``; None for no norm (then both
            are identities, as the official code allows). Default: ``dict(type='BN')``.
        init_cfg (dict, optional): mmengine initialisation config. Default: None.
        reduction_factor (int, optional): The name MMPreTrain, MMDetection and the official
            code give ``reduction``; give at most one of the two. Default: None.
    """

    def __init__(self,
                 in_channels: int,
                 channels: Optional[int] = None,
                 kernel_size: int = 3,
                 stride: int = 1,
                 padding: Optional[int] = None,
                 dilation: int = 1,
                 groups: int = 1,
                 radix: int = 2,
                 reduction: Optional[int] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 init_cfg: Optional[dict] = None,
                 reduction_factor: Optional[int] = None):
        super().__init__(init_cfg=init_cfg)
        channels, inter_channels = self._build_split_conv(
            in_channels, channels, kernel_size, stride, padding, dilation, groups, radix,
            reduction, reduction_factor, conv_cfg, norm_cfg)
        self.fc1 = nn.Conv2d(channels, inter_channels, 1, groups=groups)
        self.norm1_name, norm1 = _build_norm(norm_cfg, inter_channels, 1)
        self.add_module(self.norm1_name, norm1)
        self.fc2 = nn.Conv2d(inter_channels, channels * radix, 1, groups=groups)

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.split_conv(x)  # (B, R*C, H, W), radix-major blocks r*K + k
        batch, _, height, width = x.shape
        radix, channels = self.radix, self.channels
        if radix == 1:
            return x * torch.sigmoid(self.attention_logits(x.mean((2, 3), keepdim=True)))
        return attention_sum(x.view(batch, radix, channels, height, width),
                             self.attention_logits)

    def attention_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """Per-split means ``(B, R, C, 1, 1)`` (or ``(B, C, 1, 1)`` when ``R = 1``) -> the
        logits in the same radix-major layout: sum over the splits, ``fc1`` -> ``bn1`` ->
        ReLU -> ``fc2``."""
        batch, radix, groups, channels = pooled.shape[0], self.radix, self.groups, self.channels
        gap = pooled.sum(dim=1) if radix > 1 else pooled  # (B, C, 1, 1)
        gap = self.relu(attention_norm(self.norm1, pointwise_conv(self.fc1, gap)))
        logits = pointwise_conv(self.fc2, gap)  # (B, R*C, 1, 1), cardinal-major k*R + r
        if radix == 1:
            return logits
        # radix-major like the splits; a copy of B*R*C numbers (a view when groups == 1)
        logits = logits.view(batch, groups, radix, channels // groups).transpose(1, 2)
        return logits.reshape(batch, radix, channels, 1, 1)


class _CardinalGroupAttention(nn.Module):
    """Attention of one cardinal group: ``fc1 -> norm -> ReLU -> fc2`` on pooled vectors.

    ``fc2`` writes the ``R`` logits of each channel radix-major (``[r][c]``).
    """

    def __init__(self, channels: int, inter_channels: int, radix: int,
                 norm_cfg: Optional[dict]):
        super().__init__()
        self.fc1 = nn.Linear(channels, inter_channels)
        self.norm_name, norm = _build_norm(norm_cfg, inter_channels, 1)
        self.add_module(self.norm_name, norm)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(inter_channels, channels * radix)

    @property
    def norm(self):
        return getattr(self, self.norm_name)

    def forward(self, gap: torch.Tensor) -> torch.Tensor:
        hidden = self.fc1(gap)[..., None, None]
        hidden = self.relu(attention_norm(self.norm, hidden)).flatten(1)
        return self.fc2(hidden)


@MODELS.register_module()
class RadixMajorSplitAttentionConv2d(_SplitConvMixin, BaseModule):
    """Split-attention convolution, radix-major reference form (one module per cardinal group).

    Paper: Zhang et al., "ResNeSt: Split-Attention Networks" (arXiv 2004.08955), Sec. 3 and the
    official ``RadixMajorNaiveImp`` -- here *with* the norm + ReLU between the two FCs, so it is
    the same function as :class:`SplitAttentionConv2d` (the official reference omits them and
    is only compared with all-ones FC weights).

    The split conv (``conv`` -> ``bn0`` -> ReLU) is the same grouped conv as in the fast form;
    its output block ``r * K + k`` is split ``r`` of cardinal group ``k``. For each group ``k``
    the splits ``r = 0 .. R-1`` are gathered and summed, pooled, and ``attention[k]``
    (``nn.Linear`` fc1 -> norm -> ReLU -> ``nn.Linear`` fc2) gives ``R`` logits per channel,
    softmaxed over ``R`` (sigmoid for ``R = 1``); the group's output is the weighted sum of its
    splits, and the ``K`` outputs are concatenated. It loops over groups and splits in Python:
    use it to read and to test, use :class:`SplitAttentionConv2d` to train.

    Args: the same as :class:`SplitAttentionConv2d`.
    """

    def __init__(self,
                 in_channels: int,
                 channels: Optional[int] = None,
                 kernel_size: int = 3,
                 stride: int = 1,
                 padding: Optional[int] = None,
                 dilation: int = 1,
                 groups: int = 1,
                 radix: int = 2,
                 reduction: Optional[int] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 init_cfg: Optional[dict] = None,
                 reduction_factor: Optional[int] = None):
        super().__init__(init_cfg=init_cfg)
        channels, inter_channels = self._build_split_conv(
            in_channels, channels, kernel_size, stride, padding, dilation, groups, radix,
            reduction, reduction_factor, conv_cfg, norm_cfg)
        self.attention = nn.ModuleList(
            _CardinalGroupAttention(channels // groups, inter_channels // groups, radix,
                                    norm_cfg) for _ in range(groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.split_conv(x)
        width = self.channels // self.groups
        blocks = torch.split(x, width, dim=1)  # block r*K + k = split r of group k
        outs = []
        for k, attention in enumerate(self.attention):
            splits = [blocks[r * self.groups + k] for r in range(self.radix)]
            gap = sum(splits).mean(dim=(2, 3))  # (B, C/K)
            logits = attention(gap).view(-1, self.radix, width)  # radix-major [r][c]
            if self.radix > 1:
                weights = logits.softmax(dim=1)
            else:
                weights = torch.sigmoid(logits)
            weights = weights.to(x.dtype)  # fp32 after a CUDA-autocast softmax; keep x's dtype
            outs.append(sum(weights[:, r, :, None, None] * splits[r]
                            for r in range(self.radix)))
        return torch.cat(outs, dim=1)


def _norm_tensors(norm: nn.Module) -> Iterator[Tuple[str, Optional[torch.Tensor]]]:
    for name in ('weight', 'bias', 'running_mean', 'running_var'):
        yield name, getattr(norm, name, None)


def split_attention_correspondence(
        fast: SplitAttentionConv2d, radix_major: RadixMajorSplitAttentionConv2d
) -> List[Tuple[str, torch.Tensor, slice, torch.Tensor]]:
    """Which slice of which tensor of the fast form is which tensor of the radix-major form.

    Returns ``(name, fast_tensor, rows, radix_major_tensor)`` tuples meaning
    ``fast_tensor[rows].reshape(radix_major_tensor.shape)`` *is* ``radix_major_tensor``
    (parameters and running statistics; ``num_batches_tracked`` is handled by
    :func:`copy_split_attention_weights`). The split conv and ``bn0`` are shared layouts
    (whole tensors). The grouped ``fc1``/``bn1``/``fc2`` of the fast form are block-diagonal
    over the ``K`` cardinal groups: rows ``k * I/K : (k+1) * I/K`` of ``fc1``/``bn1`` and rows
    ``k * R*C/K : (k+1) * R*C/K`` of ``fc2`` (whose cardinal-major ``[k][r][c]`` order is,
    inside group ``k``, the radix-major ``[r][c]`` order of ``attention[k].fc2``) belong to
    ``attention[k]``. Used to copy weights and to compare gradients.

    Raises ``ValueError`` if the two modules differ in shape or use a norm that is not
    per-channel (only BN-type norms and no norm can be sliced per group).
    """
    if not isinstance(fast, SplitAttentionConv2d) or not isinstance(
            radix_major, RadixMajorSplitAttentionConv2d):
        raise TypeError('split_attention_correspondence(fast, radix_major) expects a '
                        'SplitAttentionConv2d and a RadixMajorSplitAttentionConv2d, got '
                        f'{type(fast).__name__} and {type(radix_major).__name__}')
    for attr in ('in_channels', 'channels', 'groups', 'radix', 'inter_channels'):
        if getattr(fast, attr) != getattr(radix_major, attr):
            raise ValueError(f'cannot map split attention weights: {attr} differs '
                             f'({getattr(fast, attr)} vs {getattr(radix_major, attr)})')
    if fast.conv.weight.shape != radix_major.conv.weight.shape:
        raise ValueError('cannot map split attention weights: the split convs differ '
                         f'({tuple(fast.conv.weight.shape)} vs '
                         f'{tuple(radix_major.conv.weight.shape)})')
    for norm in (fast.norm1, *(a.norm for a in radix_major.attention)):
        if not isinstance(norm, (_BatchNorm, nn.Identity)):
            raise ValueError('cannot map split attention weights per cardinal group for a '
                             f'{type(norm).__name__} attention norm; only BatchNorm-type '
                             'norms (or norm_cfg=None) are per-channel')
    whole = slice(None)
    pairs = [('conv.weight', fast.conv.weight, whole, radix_major.conv.weight)]
    if fast.conv.bias is not None:
        pairs.append(('conv.bias', fast.conv.bias, whole, radix_major.conv.bias))
    for name, tensor in _norm_tensors(fast.norm0):
        if tensor is not None:
            pairs.append((f'{fast.norm0_name}.{name}', tensor, whole,
                          getattr(radix_major.norm0, name)))
    inter = fast.inter_channels // fast.groups
    out = fast.radix * fast.channels // fast.groups
    for k, group in enumerate(radix_major.attention):
        rows_i, rows_o = slice(k * inter, (k + 1) * inter), slice(k * out, (k + 1) * out)
        pairs += [(f'fc1.weight[{k}]', fast.fc1.weight, rows_i, group.fc1.weight),
                  (f'fc1.bias[{k}]', fast.fc1.bias, rows_i, group.fc1.bias),
                  (f'fc2.weight[{k}]', fast.fc2.weight, rows_o, group.fc2.weight),
                  (f'fc2.bias[{k}]', fast.fc2.bias, rows_o, group.fc2.bias)]
        for name, tensor in _norm_tensors(fast.norm1):
            if tensor is not None:
                pairs.append((f'{fast.norm1_name}.{name}[{k}]', tensor, rows_i,
                              getattr(group.norm, name)))
    return pairs


@torch.no_grad()
def copy_split_attention_weights(src: nn.Module, dst: nn.Module) -> int:
    """Copy the weights (and BN running statistics) of one split-attention form into the other.

    ``src``/``dst`` are a :class:`SplitAttentionConv2d` and a
    :class:`RadixMajorSplitAttentionConv2d` (either direction) built with the same arguments.
    Afterwards both compute the same function, in train and eval mode. Returns the number of
    tensors written. See :func:`split_attention_correspondence` for the mapping.
    """
    if isinstance(src, SplitAttentionConv2d):
        pairs, to_radix_major = split_attention_correspondence(src, dst), True
    else:
        pairs, to_radix_major = split_attention_correspondence(dst, src), False
    for _, fast_t, rows, rm_t in pairs:
        if to_radix_major:
            rm_t.copy_(fast_t[rows].reshape(rm_t.shape))
        else:
            fast_t[rows] = rm_t.reshape(fast_t[rows].shape)
    fast, radix_major = (src, dst) if to_radix_major else (dst, src)
    counters = [(fast.norm0, radix_major.norm0)] + [(fast.norm1, group.norm)
                                                      for group in radix_major.attention]
    for f_norm, r_norm in counters:
        if getattr(f_norm, 'num_batches_tracked', None) is not None:
            s, d = (f_norm, r_norm) if to_radix_major else (r_norm, f_norm)
            d.num_batches_tracked.copy_(s.num_batches_tracked)
    return len(pairs)
