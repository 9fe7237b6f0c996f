"""Time and FLOPs per stage of our backbones, the whole training step, and its page faults.

Examples::

    # where ResNeSt-50's training step goes, against ResNet-50 (CPU fp32, batch 8, 224)
    python tools/analysis/stage_times.py resnest50 resnet50 --baseline resnet50 \\
        --cfg channels_last=True --batch 8 --size 224 --repeats 5

    # ... and what each kind of op costs in the two training steps
    python tools/analysis/stage_times.py resnest50 resnet50 --baseline resnet50 --ops

Per model: a table of stages (GFLOPs, forward+backward ms of the stage alone, ms per GFLOP),
the sum of the stages, the whole training step (the benchmark's: forward, backward, SGD) and
its minor page faults and system CPU time. With ``--baseline``: FLOP, stage-sum and whole-step
ratios (baseline cost / model cost, i.e. the model's throughput relative to the baseline).
With ``--ops``: the time of every kind of ATen op in one more training step per repeat, the
models side by side (convolutions by kernel size, grouping and direction, with ms per GMAC).
Models are interleaved in every repeat; the numbers are medians. Model names: see
``tools/analysis/benchmark.py --list``.
"""
import argparse
import json
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.dirname(TOOLS), TOOLS]  # mmresfam of this checkout; _cli, analysis._lib
from _cli import run_main  # noqa: E402

from analysis._lib.bench import (Options, cli_models, machine_info,  # noqa: E402
                                 parse_overrides)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('models', nargs='+', help='model names (tools/analysis/benchmark.py --list)')
    p.add_argument('--baseline', help='also report ratios against this model (same run)')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--warmup', type=int, default=1, help='untimed repeats first')
    p.add_argument('--iters', type=int, default=2, help='whole steps per repeat')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, help='torch.set_num_threads')
    p.add_argument('--cfg', action='append', default=[], metavar='KEY=VALUE',
                   help='override an argument of our backbone (python literal), repeatable')
    p.add_argument('--ops', action='store_true',
                   help='also time every kind of ATen op in one more step per repeat (CPU)')
    p.add_argument('--json', help='write the result here')
    args = p.parse_args(argv)
    import torch

    from analysis._lib.stages import baseline_ratios, format_table, run
    try:
        models = cli_models(args.models, args.baseline)
        overrides = parse_overrides(args.cfg)
    except ValueError as err:
        print(f'error: {err}')
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    opts = Options(batch=args.batch, size=args.size, warmup=args.warmup, iters=args.iters,
                   repeats=args.repeats, overrides=overrides)
    result = run(models, opts, log=lambda s: print(s, flush=True), ops=args.ops)
    ratios = baseline_ratios(result, args.baseline) if args.baseline else None
    print(format_table(result, ratios))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(command='python tools/analysis/stage_times.py ' + ' '.join(
                sys.argv[1:] if argv is None else argv), machine=machine_info(opts),
                           result=result, ratios=ratios), f, indent=1)
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    run_main(main)
