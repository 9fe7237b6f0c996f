"""Convert timm / torchvision ResNet, ResNeXt, SE-ResNet and SE-ResNeXt weights to mmresfam.

A command line over :mod:`mmresfam.convert.resnet` (the key mapping and the matching
backbone configs are documented there); the same rules serve the ``timm://`` checkpoint
scheme. Prints the backbone config that the weights fit and what was mapped.

Usage::

    python tools/model_converters/timm_resnet_to_mmresfam.py SRC.pth DST.pth [--force]

DST must differ from SRC; an existing DST is kept unless ``--force``.
"""
import os.path as osp
import sys

sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/
from model_converters._common import main as cli_main  # noqa: E402  (repo root on sys.path)
from mmresfam.convert.resnet import convert, detect, infer_backbone_cfg  # noqa: E402,F401
from mmresfam.convert.common import num_head  # noqa: E402


def _report(state_dict, converted, args) -> None:
    print(f'backbone: {infer_backbone_cfg(state_dict)}')
    renamed = sum(1 for old, new in zip(state_dict, converted)
                  if new.split('.', 1)[1] != old)
    print(f'mapped {len(converted)} tensors ({renamed} renamed beyond the prefix, '
          f'{num_head(converted)} head tensors)')


def main():
    return cli_main(convert, _report,
             'Convert timm/torchvision (SE-)ResNet/ResNeXt weights to mmresfam.',
             src_help='checkpoint (a state_dict or a dict with "state_dict")')


if __name__ == '__main__':
    sys.exit(main())
