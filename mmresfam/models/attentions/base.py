"""What the attention modules share: the attention-map protocol, the reduction-ratio argument
and the rule for a norm that sees one value per channel (see the package docstring)."""
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils import check_int_range, pointwise_conv

__all__ = ['AttentionMapMixin', 'attention_norm', 'conv_module_forward']


class AttentionMapMixin:
    """The attention-map protocol: ``record_attention`` and ``last_attention_map``.

    A module that mixes this in (before ``BaseModule``) exposes its attention map for
    visualisation: while ``record_attention`` is False (the default) nothing is stored; set it
    to True and every forward stores the map, detached, in ``last_attention_map`` (what the map
    is, and its shape, is stated by each module). Tools find such modules by the attribute
    ``record_attention`` (``tools/visualization/vis_attention.py``).

    The defaults are class attributes, so a module needs no extra ``__init__`` code; assigning
    them on an instance (``m.record_attention = True``, ``m.last_attention_map = None``) sets
    that instance's own value. A module that stores a second map (e.g.
    :class:`~mmresfam.models.attentions.DoubleAttention`'s ``last_distribution_map``) declares
    it as a class attribute too and passes its name to :meth:`_store_map`.
    """

    record_attention: bool = False
    last_attention_map: Optional[torch.Tensor] = None

    def _store_map(self, attention_map: torch.Tensor,
                   name: str = 'last_attention_map') -> None:
        """Store ``attention_map`` (detached) as ``name`` when ``record_attention`` is set."""
        if self.record_attention:
            setattr(self, name, attention_map.detach())


def reduction_arg(owner: str, reduction: Optional[int], default: int,
                  alias: Optional[str] = None, alias_value: Optional[int] = None,
                  high: Optional[int] = None) -> int:
    """Resolve and check the reduction ratio of an attention module.

    Every module calls its reduction ratio ``reduction`` (an integer ``r``: the hidden width
    is derived from ``C / r``). A module that stands in for a reference module also accepts
    that reference's name ``alias`` (e.g. ``ratio`` for MMPreTrain's ``SELayer``); giving both
    is an error, and the value is checked under the name the caller used.

    Args:
        owner (str): Class name, for the error messages.
        reduction (int, optional): The value given as ``reduction`` (None: not given).
        default (int): The value when neither name is given.
        alias (str, optional): The reference module's name for the argument.
        alias_value (int, optional): The value given under ``alias`` (None: not given).
        high (int, optional): Upper bound of the allowed range (``[1, high]``).

    Returns:
        int: The reduction ratio.
    """
    if alias_value is not None:
        if reduction is not None:
            raise TypeError(f'{owner}: give the reduction ratio once, as reduction or as '
                            f'{alias}, got reduction={reduction!r} and '
                            f'{alias}={alias_value!r}')
        name, value = alias, alias_value
    else:
        name, value = 'reduction', default if reduction is None else reduction
    check_int_range(name, value, 1, high, owner=owner)
    return value


def _syncs_across_processes(norm: nn.Module) -> bool:
    return (isinstance(norm, nn.SyncBatchNorm) and dist.is_available()
            and dist.is_initialized() and dist.get_world_size() > 1)


def attention_norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a norm of an attention branch to ``x`` (``(B, C, H, W)``), also when it holds one
    value per channel.

    The attention branches normalise pooled maps: split attention's ``bn1`` and SK's
    ``attn_reduce`` norm always see ``(B, C, 1, 1)``, SCConv's ``k2`` norm sees a ``1 x 1``
    map whenever the feature map is smaller than twice its pooling rate (e.g. the last stage of
    SCNet at 224 px: 7 x 7 pooled by 4). In training mode a BatchNorm cannot normalise a single
    value per channel (PyTorch raises "Expected more than 1 value per channel when training";
    ResNeSt issues #35/#46, timm #911), so a batch of 1 could not be trained.

    Documented behaviour: **when ``B * H * W == 1`` in training mode, a (non-synchronised)
    BatchNorm normalises with its running statistics and does not update them**, exactly as in
    eval mode; its affine parameters still get gradients. Every other case (more than one value
    per channel, eval mode, SyncBN across several processes, GroupNorm, ...) is the norm's own
    forward. A BN without running statistics (``track_running_stats=False``) cannot do this and
    raises a ``ValueError`` that says what to change.

    Args:
        norm (nn.Module): The norm layer (any; only BatchNorm-type layers are special-cased).
        x (Tensor): Its input, ``(B, C, H, W)``.

    Returns:
        Tensor: The normalised ``x``.
    """
    if (norm.training and isinstance(norm, _BatchNorm) and x.numel() == x.shape[1]
            and not _syncs_across_processes(norm)):
        if norm.running_mean is None:
            raise ValueError(
                f'{type(norm).__name__} of an attention branch: one value per channel (batch '
                'of 1 on a 1x1 map) in training mode needs running statistics '
                '(track_running_stats=True); use a batch size > 1, norm_eval=True, or '
                'model.eval()')
        return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                            False, 0.0, norm.eps)
    return norm(x)


def conv_module_forward(module: ConvModule, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` for a ``ConvModule`` of an attention branch: a 1x1 conv of pooled vectors
    through :func:`~mmresfam.models.utils.pointwise_conv`, its norm through
    :func:`attention_norm` (the conv, norm, activation order of ``ConvModule``'s default)."""
    out = pointwise_conv(module.conv, x)
    if module.with_norm:
        out = attention_norm(module.norm, out)
    if module.with_activation:
        out = module.activate(out)
    return out
