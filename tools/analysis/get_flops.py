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
sys.path[:0] = [os.path.dirname(TOOLS), TOOLS]  # mmresfam of this checkout; analysis._lib


def main(argv=None):
    p = argparse.ArgumentParser(description='parameters and FLOPs of a config')
    p.add_argument('config')
    p.add_argument('--shape', type=int, nargs='+', help='input H [W] (default: test crop)')
    p.add_argument('--backbone-only', action='store_true')
    p.add_argument('--table', action='store_true', help='print the per-module table')
    args = p.parse_args(argv)
    from mmengine.analysis import get_model_complexity_info
    from mmengine.config import Config

    import mmresfam  # noqa: F401
    from analysis._lib.zoo import test_input_size
    from mmresfam.registry import MODELS
    if not os.path.isfile(args.config):
        print(f'error: config file not found: {args.config}')
        return 2
    cfg = Config.fromfile(args.config)
    scope = cfg.get('default_scope', 'mmpretrain')
    import importlib
    importlib.import_module(f'{scope}.utils').register_all_modules(init_default_scope=True)
    if args.shape:
        h, w = (args.shape * 2)[:2]
    else:
        h = w = test_input_size(cfg)
    if args.backbone_only or cfg.model.get('type') != 'ImageClassifier':
        model = MODELS.build(cfg.model.backbone)
        what = 'backbone'
    else:
        from mmpretrain.registry import MODELS as MMPRE
        model = MMPRE.build(cfg.model)
        what = 'model'
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
    sys.exit(main())
