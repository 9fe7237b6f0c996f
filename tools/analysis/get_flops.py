"""Print the parameters and FLOPs of a config's model (mmengine.analysis).

Usage::

    python tools/analysis/get_flops.py configs/resnest/resnest50_8xb32_in1k.py [--shape 224]

FLOPs are mmengine's count (one multiply-accumulate = one FLOP, the OpenMMLab convention), at
the config's test crop unless ``--shape`` is given. Works for classification configs; for a
detector/segmentor config pass ``--backbone-only`` to measure the backbone.
"""
import argparse
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.dirname(TOOLS), TOOLS]  # mmresfam of this checkout; _cli, analysis._lib
from _cli import build_model, friendly_errors, load_config, run_main  # noqa: E402


def main(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description='parameters and FLOPs of a config')
    p.add_argument('config')
    p.add_argument('--shape', type=int, nargs='+', help='input H [W] (default: test crop)')
    p.add_argument('--backbone-only', action='store_true')
    p.add_argument('--table', action='store_true', help='print the per-module table')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings (every key path is checked)')
    args = p.parse_args(argv)
    from mmengine.analysis import get_model_complexity_info

    from analysis._lib.zoo import test_input_size
    with friendly_errors('get_flops.py'):
        cfg = load_config(args.config, args.cfg_options)
        if args.shape:
            h, w = (args.shape * 2)[:2]
        else:
            h = w = test_input_size(cfg)
        whole = not args.backbone_only and cfg.model.get('type') == 'ImageClassifier'
        model = build_model(cfg, None if whole else cfg.model.backbone)
        what = 'model' if whole else 'backbone'
    model.eval()
    info = get_model_complexity_info(model, input_shape=(3, h, w), show_table=args.table,
                                     show_arch=False)
    if args.table:
        print(info['out_table'])
    print(f'{what}: {args.config}')
    print(f'input shape: (3, {h}, {w})')
    print(f"params: {info['params'] / 1e6:.2f} M")
    print(f"flops:  {info['flops'] / 1e9:.2f} G")
    return 0


if __name__ == '__main__':
    run_main(main)
