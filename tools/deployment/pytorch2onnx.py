"""Export a config's backbone (or whole classifier) to ONNX and check it with onnxruntime.

Usage::

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT [--out model.onnx]
        [--shape 224] [--whole] [--opset 17] [--dynamic-batch] [--atol 1e-4]

``CHECKPOINT`` may be ``none`` (random weights, to check exportability). The backbone's
outputs (every ``out_indices`` stage) become ``out0..outN``; with ``--whole`` the classifier's
logits (``mode='tensor'``) are exported. The script runs the same random input through
PyTorch and onnxruntime and exits 1 if the max abs difference exceeds ``--atol``.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tools')]  # mmresfam; _cli, analysis._lib
from _cli import (CLIError, build_model, friendly_errors, load_config,  # noqa: E402
                  load_model_checkpoint, require_file, run_main)


def main(argv=None):
    p = argparse.ArgumentParser(description='export to ONNX and verify with onnxruntime')
    p.add_argument('config')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' for random weights")
    p.add_argument('--out', help='ONNX file (default: <config name>.onnx)')
    p.add_argument('--shape', type=int, nargs='+', default=[224], help='input H [W]')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--whole', action='store_true', help='export the whole classifier')
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--dynamic-batch', action='store_true')
    p.add_argument('--atol', type=float, default=1e-4)
    args = p.parse_args(argv)

    from analysis._lib.export import export_onnx
    with friendly_errors('pytorch2onnx.py'):
        cfg = load_config(args.config)
        if args.checkpoint.lower() != 'none':
            require_file(args.checkpoint, 'checkpoint')
        if min(args.shape) <= 0 or len(args.shape) > 2 or args.batch <= 0:
            raise CLIError(f'--shape {" ".join(map(str, args.shape))} --batch {args.batch}: '
                           'give one or two positive sizes (H [W]) and a positive batch')
        out = args.out or os.path.splitext(os.path.basename(args.config))[0] + '.onnx'
        if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise CLIError(f'--out {out}: the folder {os.path.dirname(out)} does not exist')
        if args.whole and cfg.model.get('type') != 'ImageClassifier':
            raise CLIError(f"--whole needs an ImageClassifier config, got model type "
                           f"{cfg.model.get('type')!r}")
        model = build_model(cfg)
        if args.checkpoint.lower() != 'none':
            load_model_checkpoint(model, args.checkpoint, 'pytorch2onnx.py')
    net = ClassifierLogits(model) if args.whole else model.backbone
    h, w = (args.shape * 2)[:2]
    try:
        diff, n = export_onnx(net, (args.batch, 3, h, w), out, opset=args.opset,
                              dynamic_batch=args.dynamic_batch)
    except ValueError as e:  # non-finite or mis-shaped outputs
        print(f'FAILED: {e}')
        return 1
    print(f'exported {"classifier" if args.whole else "backbone"} of {args.config} '
          f'({n} output(s), input {args.batch}x3x{h}x{w}, opset {args.opset}) to {out}')
    print(f'onnxruntime vs PyTorch: max abs difference {diff:.3g} (allowed {args.atol:g})')
    if not diff <= args.atol:
        print('FAILED: outputs differ')
        return 1
    return 0


def ClassifierLogits(model):
    """The classifier as ``image -> logits`` (what ``mode='tensor'`` computes)."""
    import torch.nn as nn

    class Logits(nn.Module):

        def __init__(self, classifier):
            super().__init__()
            self.classifier = classifier

        def forward(self, x):
            return self.classifier(x, mode='tensor')

    return Logits(model)


if __name__ == '__main__':
    run_main(main)
