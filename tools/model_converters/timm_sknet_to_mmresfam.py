"""Convert timm SK-ResNet / SK-ResNeXt weights to ``mmresfam.SKNet``.

A command line over :mod:`mmresfam.convert.sknet` (the key mapping and the matching
backbone configs are documented there); the same rules serve the ``timm://`` checkpoint
scheme. Prints the backbone config that the weights fit and what was mapped.

Usage::

    python tools/model_converters/timm_sknet_to_mmresfam.py SRC.pth DST.pth [--force]

DST must differ from SRC; an existing DST is kept unless ``--force``.
"""
import os.path as osp
import sys

sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/
from model_converters._common import main as cli_main  # noqa: E402  (repo root on sys.path)
from mmresfam.convert.sknet import convert, infer_backbone_cfg  # noqa: E402,F401
from mmresfam.convert.common import num_head  # noqa: E402


def _report(state_dict, converted, args) -> None:
    print(f'detected: {infer_backbone_cfg(state_dict)}')
    print(f'mapped {len(converted)} tensors ({num_head(converted)} head tensors)')


def main():
    return cli_main(convert, _report, 'Convert timm SK(Res)Net weights to mmresfam.')


if __name__ == '__main__':
    sys.exit(main())
