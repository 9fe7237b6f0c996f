"""Checks that turn silent detector/segmentor misconfigurations into build-time errors.

* :func:`check_neck_channels`: the channels a neck (or, without a neck, a segmentation head)
  expects must be the channels the backbone really returns. A mismatch otherwise surfaces as a
  shape error deep inside the first forward pass, or not at all when only the lateral convs of
  unused levels differ.
* :func:`check_pretrained_keys`: a ``Pretrained`` ``init_cfg`` whose checkpoint shares no key with
  the module would leave it randomly initialised, with only a log line about missing keys.
"""
import re
from typing import List, Optional, Sequence

from torch import nn


def _unwrap(model: nn.Module) -> nn.Module:
    """Return the bare model inside a DDP/MMDistributedDataParallel-style wrapper."""
    while hasattr(model, 'module') and isinstance(model.module, nn.Module):
        model = model.module
    return model


def backbone_feature_channels(backbone: nn.Module) -> Optional[List[int]]:
    """Channels of the feature maps a backbone returns, in output order.

    Uses the backbone's ``out_channels`` (one entry per stage, as every mmresfam backbone
    exposes) and ``out_indices``. Returns ``None`` for a backbone that exposes neither, so
    third-party backbones are simply not checked.
    """
    per_stage = getattr(backbone, 'out_channels', None)
    out_indices = getattr(backbone, 'out_indices', None)
    if not isinstance(per_stage, (list, tuple)) or out_indices is None:
        return None
    if isinstance(out_indices, int):
        out_indices = (out_indices, )
    return [int(per_stage[i]) for i in out_indices]


def _expected_from_head(head: nn.Module, features: Sequence[int]):
    """What an MMSegmentation decode head takes from ``features`` (by its ``in_index``)."""
    in_index = head.in_index
    if isinstance(in_index, (list, tuple)):
        return [features[i] for i in in_index]
    return features[in_index]


def _heads(model: nn.Module):
    """(name, module) of every MMSegmentation-style decode/auxiliary head of ``model``."""
    for name in ('decode_head', 'auxiliary_head'):
        head = getattr(model, name, None)
        if head is None:
            continue
        if isinstance(head, nn.ModuleList):
            for i, sub in enumerate(head):
                yield f'{name}[{i}]', sub
        else:
            yield name, head


def check_neck_channels(model: nn.Module) -> None:
    """Raise ``ValueError`` when the neck/head input channels differ from the backbone outputs.

    * A model with a neck (MMDetection's FPN, MMSegmentation necks): the neck's ``in_channels``
      list must equal the backbone's output channels at its ``out_indices``.
    * A segmentor without a neck: every decode/auxiliary head's ``in_channels`` must equal the
      channels of the backbone output(s) picked by its ``in_index``.

    Backbones without ``out_channels``/``out_indices`` and necks without a list
    ``in_channels`` are not checked.

    Args:
        model (nn.Module): A built detector or segmentor (possibly wrapped in DDP).

    Raises:
        ValueError: Naming the neck/head, its ``in_channels``, the backbone class and the
            channels it really returns.
    """
    model = _unwrap(model)
    backbone = getattr(model, 'backbone', None)
    if backbone is None:
        return
    features = backbone_feature_channels(backbone)
    if features is None:
        return
    source = (f'backbone {type(backbone).__name__} returns channels {features} '
              f'(out_indices={tuple(backbone.out_indices)})')
    neck = getattr(model, 'neck', None)
    if neck is not None:
        first = neck[0] if isinstance(neck, (nn.Sequential, nn.ModuleList)) else neck
        expected = getattr(first, 'in_channels', None)
        if isinstance(expected, (list, tuple)) and list(expected) != features:
            raise ValueError(f'neck {type(first).__name__} in_channels={list(expected)} do not '
                             f'match: {source}; set model.neck.in_channels={features}')
        return
    for name, head in _heads(model):
        if not hasattr(head, 'in_index') or not hasattr(head, 'in_channels'):
            continue
        try:
            wanted = _expected_from_head(head, features)
        except IndexError:
            raise ValueError(f'{name} {type(head).__name__} in_index={head.in_index} is out of '
                             f'range: {source}') from None
        got = head.in_channels
        got = list(got) if isinstance(got, (list, tuple)) else got
        if got != wanted:
            raise ValueError(f'{name} {type(head).__name__} in_channels={got} do not match: '
                             f'{source}; in_index={head.in_index} needs in_channels={wanted}')


def _pretrained_cfgs(init_cfg):
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained']


def check_pretrained_keys(module: nn.Module, init_cfg) -> None:
    """Raise ``ValueError`` if a ``Pretrained`` init_cfg would load nothing into ``module``.

    The checkpoint is read the way mmengine's ``PretrainedInit`` reads it (``state_dict`` entry,
    leading ``module.`` removed, ``prefix`` selected and stripped). If no key then matches a
    key of ``module.state_dict()``, loading would silently keep the random initialisation.

    Args:
        module (nn.Module): The module that will be initialised.
        init_cfg (dict | list[dict] | None): Its ``init_cfg``; entries other than
            ``type='Pretrained'`` are ignored.
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    for cfg in _pretrained_cfgs(init_cfg):
        checkpoint = cfg.get('checkpoint')
        loaded = _load_checkpoint(checkpoint, map_location=cfg.get('map_location', 'cpu'))
        state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else {}
        keys = [re.sub(r'^module\.', '', k) for k in state]
        prefix = cfg.get('prefix')
        owner = type(module).__name__
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            selected = [k[len(prefix):] for k in keys if k.startswith(prefix)]
            if not selected:
                raise ValueError(
                    f"{owner}: init_cfg Pretrained checkpoint '{checkpoint}' has no key starting "
                    f"with prefix='{prefix}' (first keys: {keys[:3]})")
            keys = selected
        own = set(module.state_dict())
        if not own.intersection(keys):
            hint = ''
            if any(k.startswith('backbone.') for k in keys):
                hint = "; its keys start with 'backbone.': set prefix='backbone.'"
            raise ValueError(
                f"{owner}: init_cfg Pretrained checkpoint '{checkpoint}' "
                f"(prefix={cfg.get('prefix')!r}) has no key of this model: checkpoint keys "
                f'{keys[:3]}..., model keys {sorted(own)[:3]}...{hint}')
