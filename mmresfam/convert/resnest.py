"""Convert timm or official ResNeSt weights to ``mmresfam.ResNeSt``.

timm's ``resnest*`` models (``resnest14d``, ``resnest26d``, ``resnest50d``, ``resnest101e``,
``resnest200e``, ``resnest269e``, ``resnest50d_4s2x40d``, ``resnest50d_1s4x24d``) and the
official repository's models (zhanghang1989/ResNeSt ``resnest50/101/200/269``) use the *same*
state_dict keys, so this one converter serves both. MMDetection's ResNeSt layout
(``open-mmlab://resnest50/101/200``, stem keys ``stem.0 .. stem.7``) is accepted as well.
The output is an MMPreTrain ``ImageClassifier`` state_dict (``backbone.*`` for ``mmresfam.ResNeSt``, ``head.fc.*`` for
``LinearClsHead``), which is also MMPreTrain's own ResNeSt layout. Key mapping:

=====================================  ==============================================
timm / official                        mmresfam (MMPreTrain)
=====================================  ==============================================
``conv1.0`` / ``conv1.1``              ``backbone.stem.0.conv`` / ``backbone.stem.0.bn``
``conv1.3`` / ``conv1.4``              ``backbone.stem.1.conv`` / ``backbone.stem.1.bn``
``conv1.6`` / ``bn1``                  ``backbone.stem.2.conv`` / ``backbone.stem.2.bn``
``layer1.0.downsample.1`` / ``.2``     ``backbone.layer1.0.downsample.0`` / ``.1``
                                       (no pool in a stride-1 shortcut here)
``layerX.Y.*`` (everything else)       ``backbone.layerX.Y.*`` (same names)
``fc``                                 ``head.fc``
MMDetection ``stem.{0,1,3,4,6,7}``      read as ``conv1.{0,1,3,4,6}`` / ``bn1`` first
=====================================  ==============================================

Matching backbone configs (the avd position has no weights, so it cannot be read from a
state_dict: the "fast" variants ``resnest50d_4s2x40d``/``resnest50d_1s4x24d`` need
``avd_first=True``; pass ``--avd-first`` to have it printed)::

    resnest50d  (official resnest50):  dict(type='mmresfam.ResNeSt', depth=50)
    resnest101e (official resnest101): dict(type='mmresfam.ResNeSt', depth=101, stem_channels=128)
    resnest200e / resnest269e:         depth=200 / 269, stem_channels=128
    resnest14d / resnest26d:           depth=14 / 26

Command line: ``tools/model_converters/timm_resnest_to_mmresfam.py SRC DST``; checkpoint
scheme: ``timm://resnest50d.in1k`` (:mod:`mmresfam.hub`).
"""
import re
from collections import OrderedDict
from typing import Dict

import torch

from .common import BN, DEEP_STEM_RULES, blocks_per_stage, rename_keys, unrecognised_layout

# (pattern, replacement) on the full key; the first rule that matches wins
_RULES = [(pattern, 'backbone.' + repl) for pattern, repl in DEEP_STEM_RULES] + [
    # layer1 has stride 1: timm keeps an Identity (official: AvgPool(1)) at index 0
    (rf'^layer1\.0\.downsample\.1\.weight$', 'backbone.layer1.0.downsample.0.weight'),
    (rf'^layer1\.0\.downsample\.2\.{BN}$', r'backbone.layer1.0.downsample.1.\1'),
    (rf'^(layer[2-4]\.0\.downsample\.1\.weight)$', r'backbone.\1'),
    (rf'^(layer[2-4]\.0\.downsample\.2\.{BN})$', r'backbone.\1'),
    (r'^(layer[1-4]\.\d+\.(conv1|conv3|conv2\.conv|conv2\.fc1|conv2\.fc2)\.(weight|bias))$',
     r'backbone.\1'),
    (rf'^(layer[1-4]\.\d+\.(bn1|bn3|conv2\.bn0|conv2\.bn1)\.{BN})$', r'backbone.\1'),
    (r'^fc\.(weight|bias)$', r'head.fc.\1'),
]
# MMDetection's ResNeSt stem (plain Sequential) -> the official/timm stem names
_MMDET_STEM = {'0': 'conv1.0', '1': 'conv1.1', '3': 'conv1.3', '4': 'conv1.4', '6': 'conv1.6',
               '7': 'bn1'}
_SIGNATURE = ('conv1.0.weight', 'conv1.6.weight', 'bn1.weight', 'layer1.0.conv2.fc1.weight',
              'layer1.0.conv2.bn0.weight')


def normalize_layout(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename MMDetection's ResNeSt stem keys (``stem.N``) to the official/timm names.

    Any other state_dict is returned unchanged (a new dict, same order).
    """
    if not ('stem.0.weight' in state_dict and 'stem.7.weight' in state_dict):
        return dict(state_dict)
    out = {}
    for key, value in state_dict.items():
        match = re.match(r'^stem\.(\d+)\.(.+)$', key)
        if match and match.group(1) in _MMDET_STEM:
            key = f'{_MMDET_STEM[match.group(1)]}.{match.group(2)}'
        out[key] = value
    return out


def detect(state_dict: Dict[str, torch.Tensor]) -> None:
    """Raise ``ValueError`` unless ``state_dict`` has the timm/official ResNeSt layout."""
    state_dict = normalize_layout(state_dict)
    missing = [k for k in _SIGNATURE if k not in state_dict]
    if missing:
        raise unrecognised_layout(
            state_dict, 'a timm resnest* / official / MMDetection ResNeSt '
            "state_dict (deep stem 'conv1.0/3/6' or 'stem.0/3/6', split attention "
            f"'layerX.Y.conv2.fc1'); missing {missing}")


def convert_key(key: str) -> str:
    """Our key for one timm/official key; ``ValueError`` if no rule maps it."""
    for pattern, repl in _RULES:
        new, hits = re.subn(pattern, repl, key)
        if hits:
            return new
    raise ValueError(key)


def convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Map a timm/official ResNeSt state_dict to ``backbone.*``/``head.fc.*`` keys.

    Only key names are used (values are passed through). Raises ``ValueError`` for a state_dict
    of another model or with any key it cannot map.
    """
    state_dict = normalize_layout(state_dict)
    detect(state_dict)
    return rename_keys(state_dict, convert_key, 'mmresfam.ResNeSt')


_DEPTHS = {(1, 1, 1, 1): 14, (2, 2, 2, 2): 26, (3, 4, 6, 3): 50, (3, 4, 23, 3): 101,
           (3, 8, 36, 3): 152, (3, 24, 36, 3): 200, (3, 30, 48, 8): 269}


def infer_backbone_cfg(state_dict: Dict[str, torch.Tensor], avd_first: bool = False) -> dict:
    """The ``mmresfam.ResNeSt`` config that reproduces a timm/official state_dict.

    Reads depth, stem width, radix, cardinality, width and reduction from tensor shapes. The
    avd position has no weights: pass ``avd_first`` (True for the "fast" variants).
    """
    state_dict = normalize_layout(state_dict)
    detect(state_dict)
    blocks = blocks_per_stage(state_dict)
    if blocks not in _DEPTHS:
        raise ValueError(f'unrecognised state_dict: blocks per stage {blocks} match no '
                         f'ResNeSt depth (known: {sorted(_DEPTHS.values())})')
    cfg = dict(type='mmresfam.ResNeSt', depth=_DEPTHS[blocks],
               stem_channels=state_dict['conv1.6.weight'].shape[0])
    split_w = state_dict['layer1.0.conv2.conv.weight']  # (R*C, C/(K*R), 3, 3)
    fc1_w = state_dict['layer1.0.conv2.fc1.weight']  # (I, C/K, 1, 1)
    width = state_dict['layer1.0.conv1.weight'].shape[0]
    radix = split_w.shape[0] // width
    groups = width // fc1_w.shape[1]
    cfg.update(radix=radix, groups=groups)
    if groups > 1:  # stage-1 width = groups * base_width (planes == base_channels there)
        cfg['base_width'] = width // groups
    last = max(i for i in range(1, 5) if f'layer{i}.0.conv2.fc1.weight' in state_dict)
    last_width = state_dict[f'layer{last}.0.conv1.weight'].shape[0]
    cfg['reduction_factor'] = last_width * radix // state_dict[
        f'layer{last}.0.conv2.fc1.weight'].shape[0]
    if avd_first:
        cfg['avd_first'] = True
    return cfg
