"""Convert timm or official ResNeSt weights to ``mmresfam.ResNeSt``.

A command line over :mod:`mmresfam.convert.resnest` (the key mapping and the matching
backbone configs are documented there); the same rules serve the ``timm://`` checkpoint
scheme. Prints the backbone config that the weights fit and what was mapped.

Usage::

    python tools/model_converters/timm_resnest_to_mmresfam.py SRC.pth DST.pth [--force]

DST must differ from SRC; an existing DST is kept unless ``--force``.
"""
import os.path as osp
import sys

sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/
from model_converters._common import build_parser, run  # noqa: E402  (repo root on sys.path)
from mmresfam.convert.resnest import convert, infer_backbone_cfg  # noqa: E402,F401
from mmresfam.convert.common import num_head  # noqa: E402


def _report(state_dict, converted, args) -> None:
    renamed = sum(1 for old, new in zip(state_dict, converted) if f'backbone.{old}' != new)
    print(f'backbone config: {infer_backbone_cfg(state_dict, args.avd_first)}')
    print(f'mapped {len(converted)} tensors: '
          f'{sum(k.startswith("backbone.") for k in converted)} backbone '
          f'({renamed} renamed: stem conv1.N/bn1 -> stem.N.conv/bn, layer1 shortcut '
          f're-indexed, fc -> head.fc), {num_head(converted)} head')


def main():
    parser = build_parser(
        'Convert timm/official ResNeSt weights to mmresfam.ResNeSt.',
        src_help='timm or official checkpoint (a state_dict, or a dict with '
        '"state_dict"/"model")')
    parser.add_argument('--avd-first', action='store_true',
                        help='the source is a "fast" variant (avd before the split conv)')
    return run(parser.parse_args(), convert, _report, source='timm/official')


if __name__ == '__main__':
    sys.exit(main())
