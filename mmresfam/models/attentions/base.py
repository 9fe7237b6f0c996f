"""What the attention modules share: the attention-map protocol and the reduction-ratio
argument (see the package docstring)."""
from typing import Optional

import torch

from ..utils import check_int_range

__all__ = ['AttentionMapMixin']


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
