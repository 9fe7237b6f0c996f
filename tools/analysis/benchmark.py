"""Benchmark our backbones against MMPreTrain and timm: same network, same weights, one process.

Examples::

    # ResNet-50: ours vs mmpretrain vs timm, CPU fp32, batch 8, 224x224
    python tools/analysis/benchmark.py resnet50 --batch 8 --size 224 --json r50.json

    # ResNeSt-50 against ResNet-50 in the same run (+ references, + with_cp memory)
    python tools/analysis/benchmark.py resnest50 resnet50 --baseline resnet50 --with-cp

    # GPU, AMP, channels_last, torch.compile
    python tools/analysis/benchmark.py resnest50 --device cuda --batch 64 --amp \
        --channels-last --compile

Candidates are interleaved and repeated; the table shows medians and the medians of
per-repeat ratios. The outputs of the candidates of one network are compared first (relative
max error <= --tol) and the run is refused if they disagree. Model names: see
``tools/analysis/_lib/references.py`` (``--list``).
"""
import argparse
import json
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.dirname(TOOLS), TOOLS]  # mmresfam of this checkout; analysis._lib

from analysis._lib.bench import (AgreementError, Options, add_baseline_ratios,  # noqa: E402
                                 cli_models, format_table, parse_overrides, run)
from analysis._lib.references import REFERENCES  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('models', nargs='*', help='model names (see --list)')
    p.add_argument('--list', action='store_true', help='list the model names and exit')
    p.add_argument('--impls', nargs='+', default=['ours', 'mmpretrain', 'timm'],
                   choices=['ours', 'mmpretrain', 'timm'])
    p.add_argument('--device', default='cpu')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--amp', action='store_true', help='fp16 autocast on CUDA, bf16 on CPU')
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--compile', action='store_true', help='torch.compile every candidate')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps before the first repeat')
    p.add_argument('--iters', type=int, default=3, help='timed steps per repeat')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--modes', nargs='+', default=['infer', 'train', 'mem'],
                   choices=['infer', 'train', 'mem', 'rss'],
                   help="mem: saved activations (+ CUDA peak); rss: CPU peak RSS, one "
                        "subprocess per candidate")
    p.add_argument('--baseline', help='also report ours(model) / ours(BASELINE), same run')
    p.add_argument('--with-cp', action='store_true',
                   help='add ours with with_cp=True (gradient checkpointing) as a candidate')
    p.add_argument('--tol', type=float, default=1e-4, help='agreement: relative max error')
    p.add_argument('--threads', type=int, help='torch.set_num_threads')
    p.add_argument('--cfg', action='append', default=[], metavar='KEY=VALUE',
                   help='override an argument of our backbone (python literal), repeatable')
    p.add_argument('--json', help='write the result here')
    return p.parse_args(argv)


def main(argv=None):
    import torch
    args = parse_args(argv)
    if args.list or not args.models:
        for name, ref in REFERENCES.items():
            print(f'{name:14s} ours={ref.ours["type"]:28s} mmpretrain='
                  f'{(ref.mmpretrain or {}).get("type", "-"):10s} timm={ref.timm or "-"}')
        return 0
    try:
        models = cli_models(args.models, args.baseline)
        overrides = parse_overrides(args.cfg)
    except ValueError as err:
        print(f'error: {err}')
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    opts = Options(device=args.device, batch=args.batch, size=args.size, amp=args.amp,
                   channels_last=args.channels_last, compile=args.compile,
                   warmup=args.warmup, iters=args.iters, repeats=args.repeats,
                   modes=tuple(args.modes), tol=args.tol, overrides=overrides)
    impls = list(args.impls) + (['ours_cp'] if args.with_cp else [])
    def save_partial(partial):
        if args.json:
            with open(args.json + '.partial', 'w') as f:
                json.dump(partial, f, indent=1)
        print(format_table(partial), flush=True)

    try:
        result = run(models, impls, opts, log=lambda s: print(s, flush=True),
                     on_repeat=save_partial)
    except AgreementError as err:
        print(f'REFUSED: {err}')
        return 3
    if args.baseline:
        add_baseline_ratios(result, {f"{r['model']}/{r['impl']}": r for r in result['rows']},
                            args.baseline)
    result['command'] = 'python tools/analysis/benchmark.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    print()
    print(f"machine: {result['machine']}")
    print(format_table(result))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
