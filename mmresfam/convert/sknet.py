"""Convert timm SK-ResNet / SK-ResNeXt weights to ``mmresfam.SKNet``.

Supported timm models (any state_dict with their layout): ``skresnet18``, ``skresnet34``
(SK basic blocks) and ``skresnext50_32x4d`` (SK bottlenecks; also ``skresnet50``). The output
is an MMPreTrain ``ImageClassifier`` state_dict: ``backbone.*`` for ``mmresfam.SKNet`` and
``head.fc.*`` for ``LinearClsHead``. Matching backbone configs::

    skresnet18:        dict(type='mmresfam.SKNet', depth=18, reduction=8, min_channels=16,
                            split_input=True)
    skresnet34:        same with depth=34
    skresnext50_32x4d: dict(type='mmresfam.SKNet', depth=50)
    skresnet50:        dict(type='mmresfam.SKNet', depth=50, groups=1, width_per_group=64,
                            split_input=True, min_channels=8)

Command line:
``tools/model_converters/timm_sknet_to_mmresfam.py SRC DST``;
checkpoint scheme: ``timm://skresnet18.ra_in1k`` (:mod:`mmresfam.hub`).
"""
import re
from collections import OrderedDict
from typing import Dict, Optional

import torch

from .common import blocks_per_stage, rename_keys, unrecognised_layout

# (pattern, replacement) applied to the key *inside* a block (``layerX.Y.`` stripped).
_SK_RULES = [
    (r'^(conv[12])\.paths\.(\d+)\.(conv|bn)\.', r'\1.branches.\2.\3.'),
    (r'^(conv[12])\.attn\.fc_reduce\.', r'\1.attn_reduce.conv.'),
    (r'^(conv[12])\.attn\.bn\.', r'\1.attn_reduce.bn.'),
    (r'^(conv[12])\.attn\.fc_select\.', r'\1.attn_select.'),
]
_PLAIN_RULES = [  # ConvNormAct -> conv<i> / bn<i>
    (r'^conv(\d)\.conv\.', r'conv\1.'),
    (r'^conv(\d)\.bn\.', r'bn\1.'),
    (r'^downsample\.([01])\.', r'downsample.\1.'),
]
_STEM = re.compile(r'^(conv1\.weight|bn1\.(weight|bias|running_mean|running_var|'
                   r'num_batches_tracked))$')
_BLOCK = re.compile(r'^(layer[1-4]\.\d+)\.(.+)$')
_HEAD = re.compile(r'^fc\.(weight|bias)$')


def detect(state_dict: Dict[str, torch.Tensor]) -> str:
    """Return ``'basic'`` or ``'bottleneck'`` for a timm SK state_dict, else raise."""
    if 'layer1.0.conv1.paths.0.conv.weight' in state_dict:
        return 'basic'
    if 'layer1.0.conv2.paths.0.conv.weight' in state_dict:
        return 'bottleneck'
    raise unrecognised_layout(
        state_dict, 'a timm skresnet18/skresnet34/skresnext50_32x4d '
        "state_dict with keys like 'layer1.0.conv1.paths.0.conv.weight' (basic) or "
        "'layer1.0.conv2.paths.0.conv.weight' (bottleneck)")


def _convert_block_key(inner: str) -> str:
    for pattern, repl in _SK_RULES + _PLAIN_RULES:
        new, hits = re.subn(pattern, repl, inner)
        if hits:
            return new
    raise ValueError(f'unrecognised block key {inner!r}')


def _rename(key: str) -> Optional[str]:
    """Our key for one timm key (``ValueError`` or ``None`` if no rule maps it)."""
    block = _BLOCK.match(key)
    if _STEM.match(key):
        return 'backbone.' + key
    if _HEAD.match(key):
        return 'head.' + key
    if block:
        return f'backbone.{block.group(1)}.{_convert_block_key(block.group(2))}'
    return None


def convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Map a timm SK-ResNet/SK-ResNeXt state_dict to ``backbone.*``/``head.fc.*`` keys.

    Raises ``ValueError`` for a state_dict of another model or with any key it cannot map.
    """
    detect(state_dict)
    return rename_keys(state_dict, _rename, 'mmresfam.SKNet')


def infer_backbone_cfg(state_dict: Dict[str, torch.Tensor]) -> dict:
    """The ``mmresfam.SKNet`` arguments that reproduce a timm SK state_dict (informative)."""
    kind = detect(state_dict)
    sk = 'conv1' if kind == 'basic' else 'conv2'
    blocks = blocks_per_stage(state_dict)
    depth = {('basic', (2, 2, 2, 2)): 18, ('basic', (3, 4, 6, 3)): 34,
             ('bottleneck', (3, 4, 6, 3)): 50, ('bottleneck', (3, 4, 23, 3)): 101,
             ('bottleneck', (3, 8, 36, 3)): 152}.get((kind, blocks))
    if depth is None:
        raise ValueError(f'unrecognised state_dict: {kind} blocks per stage {blocks} match no '
                         'SKNet depth')
    path_w = state_dict[f'layer1.0.{sk}.paths.0.conv.weight']
    block_in = (state_dict['conv1.weight'].shape[0] if kind == 'basic' else
                state_dict['layer1.0.conv1.conv.weight'].shape[0])
    num_branches = sum(1 for k in state_dict
                       if re.match(rf'^layer1\.0\.{sk}\.paths\.\d+\.conv\.weight$', k))
    # a basic block's SK sees the block input; a bottleneck's sees conv1's output. For
    # bottlenecks, "split input, 1 group" and "no split, M groups" have the same weight shapes:
    # the split (timm's skresnet50 layout) is assumed then.
    sk_in = block_in if kind == 'basic' else path_w.shape[0]
    split_input = num_branches > 1 and path_w.shape[1] * num_branches == sk_in
    cfg = dict(type='mmresfam.SKNet', depth=depth, num_branches=num_branches,
               split_input=split_input)
    if kind == 'bottleneck':
        mid = path_w.shape[0]
        groups = sk_in // num_branches // path_w.shape[1] if split_input else \
            mid // path_w.shape[1]
        cfg.update(groups=groups, width_per_group=mid // groups)
    widths = [state_dict[f'layer{i}.0.{sk}.paths.0.conv.weight'].shape[0] for i in range(1, 5)]
    attn = [state_dict[f'layer{i}.0.{sk}.attn.fc_reduce.weight'].shape[0] for i in range(1, 5)]
    reduction, min_channels = widths[-1] // attn[-1], min(attn)
    if [max(w // reduction, min_channels) for w in widths] != attn:
        raise ValueError(f'attention widths {attn} for stage widths {widths} are not '
                         'max(C // reduction, min_channels) for any reduction/min_channels')
    cfg.update(reduction=reduction, min_channels=min_channels)
    return cfg
