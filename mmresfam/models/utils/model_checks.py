"""Checks that turn silent detector/segmentor misconfigurations into build-time errors.

* :func:`check_neck_channels`: the channels a neck (or, without a neck, a segmentation head)
  expects must be the channels the backbone really returns. A mismatch otherwise surfaces as a
  shape error deep inside the first forward pass, or not at all when only the lateral convs of
  unused levels differ.
* :func:`check_pretrained_keys`: a ``Pretrained`` ``init_cfg`` whose checkpoint fits the module
  badly (by key names and shapes) would leave it partly random, with only a log line.
* :func:`check_checkpoint_fits`: a trained checkpoint evaluated or exported with a model it
  does not fit.
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


def state_dict_fit(module: nn.Module, state: dict):
    """Compare a checkpoint's ``state`` with ``module.state_dict()``.

    A leading ``module.`` (DDP) is dropped from the checkpoint keys first.

    Args:
        module (nn.Module): The model the checkpoint is meant for.
        state (dict): The checkpoint's tensors by key.

    Returns:
        tuple[list, list, list]: The model keys the checkpoint lacks (missing), the checkpoint
        keys the model lacks (unexpected), and the keys present in both whose shapes differ
        (mis-shaped, as ``'key: checkpoint (a, b) vs model (c, d)'``).
    """
    own = module.state_dict()
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mis_shaped = [
        f'{k}: checkpoint {tuple(getattr(state[k], "shape", ()))} vs model {tuple(v.shape)}'
        for k, v in own.items()
        if k in state and tuple(getattr(state[k], 'shape', ())) != tuple(v.shape)
    ]
    return missing, unexpected, mis_shaped


def describe_fit(module: nn.Module, missing, unexpected, mis_shaped) -> str:
    """``'N missing, M unexpected, K mis-shaped of T model keys (e.g. ...)'`` for messages."""
    total = len(module.state_dict())
    examples = [f'missing {k}' for k in missing[:2]] + [f'unexpected {k}' for k in unexpected[:2]]
    examples += [f'mis-shaped {k}' for k in mis_shaped[:2]]
    return (f'{len(missing)} missing, {len(unexpected)} unexpected, {len(mis_shaped)} mis-shaped '
            f'of {total} model keys (e.g. {"; ".join(examples)})')


def check_checkpoint_fits(module: nn.Module, state: dict, name: str) -> None:
    """Raise ``ValueError`` if checkpoint ``state`` does not fit ``module`` exactly.

    Used where a whole trained model is loaded for evaluation or export (``tools/test.py``,
    ``pytorch2onnx.py``, ``vis_attention.py``): a missing or mis-shaped key would leave part
    of the model random and the scores meaningless; an unexpected key means the checkpoint
    was trained for another model (a deeper network holds every key of a shallower one).

    Args:
        module (nn.Module): The built model (possibly wrapped in DDP).
        state (dict): The checkpoint's state_dict.
        name (str): The checkpoint's path, for the message.

    Raises:
        ValueError: Naming the counts of missing, unexpected and mis-shaped keys and a few
            of them.
    """
    module = _unwrap(module)
    missing, unexpected, mis_shaped = state_dict_fit(module, state)
    if missing or unexpected or mis_shaped:
        raise ValueError(f'checkpoint {name} does not fit the model {type(module).__name__}: '
                         f'{describe_fit(module, missing, unexpected, mis_shaped)}; was it '
                         'trained with this config?')


def non_finite_tensors(state: dict) -> List[str]:
    """Keys of the floating-point tensors in ``state`` that hold NaN or Inf."""
    import torch
    return [k for k, v in state.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point()
            and not bool(torch.isfinite(v).all())]


# which converter turns timm/official weights into each backbone's layout
_CONVERTERS = (
    ('ResNeSt', 'timm_resnest_to_mmresfam.py'),
    ('SK', 'timm_sknet_to_mmresfam.py'),
    ('ResNetV2', 'timm_resnetv2_to_mmresfam.py'),
    ('ResNe', 'timm_resnet_to_mmresfam.py'),
)


def converter_hint(module: nn.Module) -> str:
    """Which of ``tools/model_converters/*`` (or the ``timm://`` checkpoint scheme, when
    registered) produces weights in ``module``'s layout."""
    from mmengine.runner import CheckpointLoader
    owner = type(module).__name__
    tool = next((t for key, t in _CONVERTERS if key in owner), None)
    hints = [f'convert timm/official weights with tools/model_converters/{tool}'] if tool else []
    if any(str(p).startswith('timm') for p in CheckpointLoader._schemes):
        hints.append("or use checkpoint='timm://<model name>'")
    return ('; ' + ' '.join(hints)) if hints else ''


def _pretrained_cfgs(init_cfg):
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained']


def check_pretrained_keys(module: nn.Module, init_cfg) -> None:
    """Raise ``ValueError`` if a ``Pretrained`` init_cfg fits ``module`` badly.

    The checkpoint is read the way mmengine's ``PretrainedInit`` reads it (``state_dict`` entry,
    leading ``module.`` removed, ``prefix`` selected and stripped) and compared with
    ``module.state_dict()`` by name *and* shape. It is refused when

    * no key has the right name and shape, or fewer than half of the module's keys do;
    * a key has the right name but another shape (it would be skipped with a log line);
    * keys are both missing and unexpected (the checkpoint names some parameters differently,
      e.g. timm's stem: those would stay random).

    A checkpoint that only lacks some keys (new plug-in layers on a pretrained backbone) or
    only has extra ones (a classifier head) is accepted. The message names the counts, a few
    keys and the converter that fits.

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
        state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
        keys = list(state)
        prefix = cfg.get('prefix')
        owner = type(module).__name__
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not state:
                raise ValueError(
                    f"{owner}: init_cfg Pretrained checkpoint '{checkpoint}' has no key starting "
                    f"with prefix='{prefix}' (first keys: {keys[:3]})")
        missing, unexpected, mis_shaped = state_dict_fit(module, state)
        own = module.state_dict()
        fitting = len(own) - len(missing) - len(mis_shaped)
        if fitting * 2 >= len(own) and not mis_shaped and not (missing and unexpected):
            continue
        hint = ' has no key of this model;' if fitting == 0 else ''
        prefix_hint = ''
        if any(k.startswith('backbone.') for k in state):
            prefix_hint = "; its keys start with 'backbone.': set prefix='backbone.'"
        raise ValueError(
            f"{owner}: init_cfg Pretrained checkpoint '{checkpoint}' "
            f"(prefix={cfg.get('prefix')!r}) does not fit:{hint} {fitting} of {len(own)} "
            f'tensors would load; {describe_fit(module, missing, unexpected, mis_shaped)}{prefix_hint}'
            f'{converter_hint(module)}')
