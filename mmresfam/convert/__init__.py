"""Conversion rules from timm (and torchvision, official ResNeSt, MMDetection ResNeSt) weights to
mmresfam's MMPreTrain ``ImageClassifier`` layout (``backbone.*`` and ``head.fc.*`` keys).

One module per family, each with ``convert(state_dict)``, ``detect(state_dict)`` and
``infer_backbone_cfg(state_dict)``; :func:`convert_timm` picks the module from a timm model
name. The command lines in ``tools/model_converters/`` and the ``timm://`` checkpoint scheme
(:mod:`mmresfam.hub`) use these rules.
"""
import re
from typing import Dict, NamedTuple

import torch

from . import resnest, resnet, resnetv2, sknet
from .common import load_state_dict, unwrap


class Family(NamedTuple):
    """A family of timm models that one conversion module serves.

    Attributes:
        title (str): The family in words (error messages, docs).
        pattern (str): Regex matched against the start of a timm model name.
        module: The conversion module (``convert``/``detect``/``infer_backbone_cfg``).
    """
    title: str
    pattern: str
    module: object


# first match wins: 'resnetv2_*' and 'resnest*' before the plain 'resnet*'
FAMILIES: Dict[str, Family] = {
    'resnest': Family('ResNeSt (resnest*)', r'resnest\d', resnest),
    'resnetv2': Family('ResNetV2 with BatchNorm (resnetv2_*)', r'resnetv2_\d', resnetv2),
    'sknet': Family('SK-ResNet/SK-ResNeXt (skresnet*, skresnext*)', r'skresne(t|xt)\d', sknet),
    'resnet': Family('ResNet/ResNeXt/SE-ResNet/SE-ResNeXt (resnet*, resnext*, seresnet*, '
                     'seresnext*, wide_resnet*)', r'(se)?resne(t|xt)\d|wide_resnet\d', resnet),
}


def supported_families() -> str:
    """The supported timm families in words, for messages."""
    return '; '.join(f.title for f in FAMILIES.values())


def family_of(timm_name: str) -> str:
    """The key in :data:`FAMILIES` of a timm model name (with or without a ``.tag``).

    Args:
        timm_name (str): e.g. ``'resnest50d'`` or ``'resnest50d.in1k'``.

    Raises:
        ValueError: if no supported family matches, naming the supported families.
    """
    arch = timm_name.split('.')[0]
    for key, family in FAMILIES.items():
        if re.match(family.pattern, arch):
            return key
    raise ValueError(f'timm model {timm_name!r} is not of a family mmresfam converts; '
                     f'supported: {supported_families()}')


def convert_timm(state_dict: Dict[str, torch.Tensor], timm_name: str) -> Dict[str, torch.Tensor]:
    """Convert a timm state_dict to mmresfam's ``backbone.*``/``head.fc.*`` layout.

    Args:
        state_dict (dict): A timm model's state_dict.
        timm_name (str): The timm model name (``NAME`` or ``NAME.TAG``); it selects the family.

    Raises:
        ValueError: for an unsupported family or a state_dict that its rules do not convert.
    """
    return FAMILIES[family_of(timm_name)].module.convert(state_dict)


__all__ = ['FAMILIES', 'Family', 'convert_timm', 'family_of', 'load_state_dict',
           'supported_families', 'unwrap', 'resnest', 'resnet', 'resnetv2', 'sknet']
