"""Convert timm / torchvision ResNet, ResNeXt, SE-ResNet and SE-ResNeXt weights to mmresfam.

Supported layouts (any depth the target class has): timm ``resnet*``, ``resnext*``,
``seresnet*``, ``seresnext*`` with the 7x7 stem, their ``c``/``d`` variants (deep 3x3 stem,
``d``: average-pool shortcut), and torchvision ``resnet*``/``resnext*``/``wide_resnet*``
(same keys as timm). The output is an MMPreTrain ``ImageClassifier`` state_dict:
``backbone.*`` for the mmresfam backbone printed by the CLI and ``head.fc.*`` for
``LinearClsHead``. Examples::

    resnext50_32x4d:   dict(type='mmresfam.ResNeXt', depth=50)
    seresnet50:        dict(type='mmresfam.SEResNet', depth=50)
    seresnext50_32x4d: dict(type='mmresfam.SEResNeXt', depth=50)
    resnet50:          dict(type='mmresfam.ResNet', depth=50)
    seresnext26d_32x4d: dict(type='mmresfam.SEResNeXt', depth=26, deep_stem=True,
                             avg_down=True)

Key mapping (everything else is unchanged, under ``backbone.``):

* ``layerX.Y.se.fc1/fc2`` -> ``layerX.Y.se_layer.conv1.conv/conv2.conv``;
* deep stem ``conv1.{0,3,6}`` / ``conv1.{1,4}`` / ``bn1`` -> ``stem.{0,1,2}.conv`` /
  ``stem.{0,1}.bn`` / ``stem.2.bn``;
* average-pool shortcut ``downsample.{1,2}`` -> ``downsample.{0,1}`` in stages whose first
  block has stride 1 (timm keeps an ``Identity`` pool there, mmpretrain has no pool);
* ``fc`` -> ``head.fc``.

Command line:
``tools/model_converters/timm_resnet_to_mmresfam.py SRC DST``;
checkpoint scheme: ``timm://resnet50.a1_in1k`` (:mod:`mmresfam.hub`).
"""
import re
from collections import OrderedDict
from typing import Dict, Optional

import torch

from .common import BN, DEEP_STEM_RULES, blocks_per_stage, rename_keys

EXPECTED = ("a timm/torchvision ResNet, ResNeXt, SE-ResNet or SE-ResNeXt state_dict with keys "
            "like 'conv1.weight' (or 'conv1.0.weight' for a deep stem), 'bn1.weight', "
            "'layer1.0.conv1.weight', 'layer1.0.se.fc1.weight' (SE models) and 'fc.weight'")

_PLAIN_STEM = [(r'^conv1\.weight$', 'conv1.weight'), (rf'^bn1\.{BN}$', r'bn1.\1')]
_BLOCK_RULES = [  # key inside a block (``layerX.Y.`` stripped)
    (r'^(conv[123]\.weight)$', r'\1'),
    (rf'^(bn[123])\.{BN}$', r'\1.\2'),
    (r'^se\.fc1\.(weight|bias)$', r'se_layer.conv1.conv.\1'),
    (r'^se\.fc2\.(weight|bias)$', r'se_layer.conv2.conv.\1'),
]
_BLOCK = re.compile(r'^layer([1-4])\.(\d+)\.(.+)$')
_HEAD = re.compile(r'^fc\.(weight|bias)$')

_DEPTHS = {
    'basic': {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34},
    'bottleneck': {(2, 2, 2, 2): 26, (3, 4, 6, 3): 50, (3, 4, 23, 3): 101,
                   (3, 8, 36, 3): 152},
}


def _unrecognised(why: str, state_dict) -> ValueError:
    return ValueError(f'unrecognised state_dict: {why}; expected {EXPECTED}; '
                      f'first keys found: {list(state_dict)[:5]}')


def detect(state_dict: Dict[str, torch.Tensor]) -> dict:
    """Describe the layout: ``stem`` ('plain'/'deep'), ``block`` ('basic'/'bottleneck'),
    ``se`` (bool) and ``avg_down`` (bool). Raises ``ValueError`` for anything else."""
    if any('.paths.0.conv.' in k for k in state_dict):
        raise _unrecognised('this is a timm SK-ResNet/SKNet state_dict: convert it with '
                            'tools/model_converters/timm_sknet_to_mmresfam.py', state_dict)
    if 'conv1.weight' in state_dict:
        stem = 'plain'
    elif 'conv1.0.weight' in state_dict and 'conv1.6.weight' in state_dict:
        stem = 'deep'
    else:
        raise _unrecognised('no ResNet stem (conv1.weight or conv1.0/conv1.6)', state_dict)
    if 'bn1.weight' not in state_dict or 'layer1.0.conv1.weight' not in state_dict:
        raise _unrecognised('no bn1 / layer1.0.conv1', state_dict)
    block = 'bottleneck' if 'layer1.0.conv3.weight' in state_dict else 'basic'
    se = 'layer1.0.se.fc1.weight' in state_dict
    avg_down = any(re.match(r'^layer[1-4]\.0\.downsample\.2\.weight$', k) for k in state_dict)
    return dict(stem=stem, block=block, se=se, avg_down=avg_down)


def _map_downsample(stage: int, inner: str, avg_down: bool) -> str:
    m = re.match(rf'^downsample\.(\d)\.{BN}$', inner)
    if m is None:
        raise KeyError(inner)
    idx = int(m.group(1))
    if avg_down:
        # timm: [pool (AvgPool or Identity), conv, bn]; mmpretrain drops the pool when the
        # stage's first block has stride 1 (stage 1 of an ImageNet ResNet).
        if idx not in (1, 2):
            raise KeyError(inner)
        if stage == 1:
            idx -= 1
    elif idx not in (0, 1):
        raise KeyError(inner)
    return f'downsample.{idx}.{m.group(2)}'


def _rename(key: str, stem_rules: list, avg_down: bool) -> Optional[str]:
    """Our key for one timm/torchvision key, or ``None`` if no rule maps it."""
    if _HEAD.match(key):
        return 'head.' + key
    block = _BLOCK.match(key)
    if block:
        stage, idx, inner = int(block.group(1)), block.group(2), block.group(3)
        for pattern, repl in _BLOCK_RULES:
            if re.match(pattern, inner):
                return f'backbone.layer{stage}.{idx}.{re.sub(pattern, repl, inner)}'
        if inner.startswith('downsample.'):  # KeyError if the index does not fit the layout
            return f'backbone.layer{stage}.{idx}.{_map_downsample(stage, inner, avg_down)}'
        return None
    for pattern, repl in stem_rules:
        if re.match(pattern, key):
            return 'backbone.' + re.sub(pattern, repl, key)
    return None


def convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Map a timm/torchvision (SE-)ResNet/ResNeXt state_dict to ``backbone.*``/``head.fc.*``.

    Raises ``ValueError`` for a state_dict of another model or with any key it cannot map.
    """
    info = detect(state_dict)
    stem_rules = _PLAIN_STEM if info['stem'] == 'plain' else DEEP_STEM_RULES
    return rename_keys(state_dict, lambda key: _rename(key, stem_rules, info['avg_down']),
                       'an mmresfam ResNet/ResNeXt/SEResNet/SEResNeXt', EXPECTED)


def infer_backbone_cfg(state_dict: Dict[str, torch.Tensor]) -> dict:
    """The mmresfam backbone config that reproduces ``state_dict`` (raises if none does)."""
    from .. import models  # noqa: F401  (registers the backbones)
    from ..registry import MODELS

    info = detect(state_dict)
    blocks = blocks_per_stage(state_dict)
    depth = _DEPTHS[info['block']].get(blocks)
    if depth is None:
        raise _unrecognised(f'{info["block"]} blocks per stage {blocks} match no depth',
                            state_dict)
    cfg = dict(depth=depth)
    stem_key = 'conv1.weight' if info['stem'] == 'plain' else 'conv1.6.weight'
    stem_channels = state_dict[stem_key].shape[0]
    groups = 1
    if info['block'] == 'bottleneck':
        mid = state_dict['layer1.0.conv1.weight'].shape[0]
        out = state_dict['layer1.0.conv3.weight'].shape[0]
        groups = mid // state_dict['layer1.0.conv2.weight'].shape[1]
        if groups == 1:
            base, expansion = mid, out // mid
        else:
            base, expansion = out // 4, 4
            cfg.update(groups=groups, width_per_group=mid // groups)
    else:
        base, expansion = state_dict['layer1.0.conv1.weight'].shape[0], 1
    if info['se']:
        if info['block'] == 'basic':
            raise _unrecognised('SE basic blocks (seresnet18/34) have no mmresfam class',
                                state_dict)
        last = state_dict['layer4.0.se.fc1.weight']
        cfg['se_ratio'] = state_dict['layer4.0.conv3.weight'].shape[0] // last.shape[0]
    name = {(False, False): 'ResNet', (False, True): 'ResNeXt', (True, False): 'SEResNet',
            (True, True): 'SEResNeXt'}[(info['se'], groups > 1)]
    if depth not in MODELS.get(f'mmresfam.{name}').arch_settings:
        raise _unrecognised(f'depth {depth} is not an mmresfam.{name} depth', state_dict)
    if stem_channels != 64:
        cfg['stem_channels'] = stem_channels
    if base != 64:
        cfg['base_channels'] = base
    if expansion != (4 if info['block'] == 'bottleneck' else 1):
        cfg['expansion'] = expansion
    if info['stem'] == 'deep':
        cfg['deep_stem'] = True
    if info['avg_down']:
        cfg['avg_down'] = True
    return dict(type=f'mmresfam.{name}', **cfg)
