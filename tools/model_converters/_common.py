"""Code shared by the ``*_to_mmresfam.py`` converters: reading a checkpoint, renaming its keys
with a clear error for the ones no rule maps, and the ``SRC DST`` command line.

A converter imports it as ``model_converters._common`` (with ``tools/`` on ``sys.path``), so
the converter works as a script, as ``model_converters.<name>`` and when loaded by file path.
"""
import argparse
from collections import OrderedDict
from typing import Callable, Dict, Iterable, Optional, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

# the tensors of a BatchNorm layer
BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
# timm's / the official ResNeSt deep 3x3 stem (``conv1`` Sequential conv-bn-relu x3, ``bn1``
# after the last conv) -> mmpretrain's ``stem`` (three ConvModules); full-key regex rules
DEEP_STEM_RULES = [
    (r'^conv1\.0\.weight$', 'stem.0.conv.weight'),
    (rf'^conv1\.1\.{BN}$', r'stem.0.bn.\1'),
    (r'^conv1\.3\.weight$', 'stem.1.conv.weight'),
    (rf'^conv1\.4\.{BN}$', r'stem.1.bn.\1'),
    (r'^conv1\.6\.weight$', 'stem.2.conv.weight'),
    (rf'^bn1\.{BN}$', r'stem.2.bn.\1'),
]
LAYER_PREFIXES = ('layer1.', 'layer2.', 'layer3.', 'layer4.')
SRC_HELP = 'timm checkpoint (state_dict or dict with "state_dict")'


def unrecognised_layout(state_dict: StateDict, expected: str) -> ValueError:
    """The error for a state_dict that is not the converter's model: what was ``expected``
    and the first five keys found (sorted)."""
    return ValueError(f'unrecognised state_dict: expected {expected}; '
                      f'first keys found: {sorted(state_dict)[:5]}')


def load_state_dict(path: str) -> StateDict:
    """Load a checkpoint on the CPU and unwrap a ``state_dict`` and then a ``model`` entry."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    for wrapper in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and wrapper in ckpt and isinstance(ckpt[wrapper], dict):
            ckpt = ckpt[wrapper]
    return ckpt


def save(state_dict: StateDict, dst: str, source: str) -> None:
    """Write ``dict(state_dict=..., meta=dict(source=...))`` to ``dst`` and say so."""
    torch.save(dict(state_dict=state_dict, meta=dict(source=source)), dst)
    print(f'saved to {dst}')


def num_head(converted: StateDict) -> int:
    """How many converted tensors belong to the classification head (``head.*``)."""
    return sum(k.startswith('head.') for k in converted)


def blocks_per_stage(state_dict: StateDict,
                     prefixes: Iterable[str] = LAYER_PREFIXES) -> Tuple[int, ...]:
    """The number of blocks of each stage: distinct indices after each stage's key prefix."""
    return tuple(len({k[len(p):].split('.')[0] for k in state_dict if k.startswith(p)})
                 for p in prefixes)


def rename_keys(state_dict: StateDict, rename: Callable[[str], Optional[str]], target: str,
                expected: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """``{rename(key): value}`` in the source order, values untouched.

    ``rename`` returns ``None`` (or raises ``KeyError``/``ValueError``) for a key it cannot map;
    if there is any, a ``ValueError`` names how many, the first five, the ``target`` model and,
    if given, the ``expected`` layout.
    """
    out = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        try:
            new = rename(key)
        except (KeyError, ValueError):
            new = None
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        msg = (f'unrecognised state_dict: {len(unknown)} keys have no mapping to {target}, '
               f'e.g. {unknown[:5]}')
        raise ValueError(msg + (f'; expected {expected}' if expected else ''))
    return out


def build_parser(description: str, src_help: str = SRC_HELP) -> argparse.ArgumentParser:
    """The converters' command line: ``SRC DST`` (add options to the returned parser)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='output path')
    return parser


def run(args: argparse.Namespace, convert: Callable[[StateDict], StateDict],
        report: Callable[[StateDict, StateDict, argparse.Namespace], None],
        source: str = 'timm') -> None:
    """Load ``args.src``, convert it, let ``report(src_sd, converted, args)`` print what was
    mapped, and save to ``args.dst`` with ``meta.source = '<source>:<src>'``."""
    state_dict = load_state_dict(args.src)
    converted = convert(state_dict)
    report(state_dict, converted, args)
    save(converted, args.dst, f'{source}:{args.src}')


def main(convert: Callable[[StateDict], StateDict],
         report: Callable[[StateDict, StateDict, argparse.Namespace], None],
         description: str, src_help: str = SRC_HELP, source: str = 'timm') -> None:
    """``SRC DST`` command line of a converter without extra options."""
    run(build_parser(description, src_help).parse_args(), convert, report, source)
