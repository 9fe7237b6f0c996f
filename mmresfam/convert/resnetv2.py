"""Convert timm pre-activation ResNetV2 weights to ``mmresfam.ResNetV2``.

Supported: the BatchNorm models ``resnetv2_18``, ``resnetv2_34``, ``resnetv2_50``,
``resnetv2_101``, ``resnetv2_152`` (any state_dict with their layout).

The output is an MMPreTrain ``ImageClassifier`` state_dict: ``backbone.*`` for
``mmresfam.ResNetV2`` and ``head.fc.*`` for ``LinearClsHead`` (timm's 1x1-conv classifier is
reshaped to a linear weight). Matching backbone config (default layout, no stem norm)::

    dict(type='mmresfam.ResNetV2', depth=50)   # resnetv2_50 (18 / 34 / 101 / 152 likewise)

timm's final ``norm`` becomes ``out_norm4`` (the output norm of the last stage), so the backbone's
last output equals timm's ``forward_features``. Only the BatchNorm models with the plain stem
are supported; the BiT models (GroupNorm + weight-standardised convs, ``resnetv2_50x1_bit``)
and the deep-stem ``resnetv2_50d`` are rejected with an error that says so.

Command line:
``tools/model_converters/timm_resnetv2_to_mmresfam.py SRC DST``;
checkpoint scheme: ``timm://resnetv2_50.a1h_in1k`` (:mod:`mmresfam.hub`).
"""
import re
from collections import OrderedDict
from typing import Dict, Optional

import torch

from .common import BN, blocks_per_stage, rename_keys, unrecognised_layout

_RULES = [
    (re.compile(r'^stem\.conv\.weight$'), lambda m: 'conv1.weight'),
    (re.compile(r'^stages\.(\d)\.blocks\.(\d+)\.downsample\.conv\.weight$'),
     lambda m: f'layer{int(m[1]) + 1}.{m[2]}.downsample.0.weight'),
    (re.compile(r'^stages\.(\d)\.blocks\.(\d+)\.conv(\d)\.weight$'),
     lambda m: f'layer{int(m[1]) + 1}.{m[2]}.conv{m[3]}.weight'),
    (re.compile(rf'^stages\.(\d)\.blocks\.(\d+)\.norm(\d)\.{BN}$'),
     lambda m: f'layer{int(m[1]) + 1}.{m[2]}.bn{m[3]}.{m[4]}'),
]
_FINAL_NORM = re.compile(rf'^norm\.{BN}$')
_HEAD = re.compile(r'^head\.fc\.(weight|bias)$')


def detect(state_dict: Dict[str, torch.Tensor]) -> int:
    """Return the number of stages of a timm BN ResNetV2 state_dict, else raise ``ValueError``."""
    if 'stem.conv.weight' not in state_dict or 'norm.running_mean' not in state_dict:
        hint = ''
        if 'norm.weight' in state_dict and 'norm.running_mean' not in state_dict:
            hint = (' (this looks like a GroupNorm BiT model, which mmresfam.ResNetV2 does not '
                    'reproduce: it needs weight-standardised convs)')
        elif any(k.startswith('stem.conv1.') for k in state_dict):
            hint = ' (deep-stem resnetv2_*d models are not supported)'
        raise unrecognised_layout(
            state_dict, 'a timm resnetv2_18/34/50/101/152 (BatchNorm) state_dict with '
            f"'stem.conv.weight', 'stages.0.blocks.0.norm1.*' and 'norm.running_mean'{hint}")
    return 1 + max(int(k.split('.')[1]) for k in state_dict if k.startswith('stages.'))


def _rename(key: str, num_stages: int) -> Optional[str]:
    """Our key for one timm key, or ``None`` if no rule maps it."""
    head = _HEAD.match(key)
    if head:
        return f'head.fc.{head[1]}'
    final = _FINAL_NORM.match(key)
    if final:
        return f'backbone.out_norm{num_stages}.{final[1]}'
    for pattern, rename in _RULES:
        match = pattern.match(key)
        if match:
            return 'backbone.' + rename(match)
    return None


def convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Map a timm ResNetV2 state_dict to ``backbone.*``/``head.fc.*`` keys of mmresfam.

    Raises ``ValueError`` for a state_dict of another model or with any key it cannot map.
    """
    num_stages = detect(state_dict)
    out = rename_keys(state_dict, lambda key: _rename(key, num_stages), 'mmresfam.ResNetV2')
    if 'head.fc.weight' in out:  # timm's 1x1-conv classifier -> a linear weight
        out['head.fc.weight'] = out['head.fc.weight'].flatten(1)
    return out


def infer_backbone_cfg(state_dict: Dict[str, torch.Tensor]) -> dict:
    """The ``mmresfam.ResNetV2`` config that reproduces a timm ResNetV2 state_dict."""
    num_stages = detect(state_dict)
    blocks = blocks_per_stage(state_dict, [f'stages.{i}.blocks.' for i in range(num_stages)])
    basic = 'stages.0.blocks.0.conv3.weight' not in state_dict
    depths = {(False, (3, 4, 6, 3)): 50, (False, (3, 4, 23, 3)): 101,
              (False, (3, 8, 36, 3)): 152, (False, (3, 24, 36, 3)): 200,
              (True, (2, 2, 2, 2)): 18, (True, (3, 4, 6, 3)): 34}
    depth = depths.get((basic, blocks))
    if depth is None:
        raise ValueError(f'unrecognised state_dict: blocks per stage {blocks} '
                         f'({"basic" if basic else "bottleneck"}) match no ResNetV2 depth')
    return dict(type='mmresfam.ResNetV2', depth=depth,
                stem_channels=state_dict['stem.conv.weight'].shape[0])
