"""One GPU report: ours vs MMPreTrain vs timm, AMP, two layouts, eager and torch.compile.

Runs ``tools/analysis/benchmark.py`` (same weights, outputs agreement-checked before timing)
four times -- NCHW and channels_last, each eager and with ``torch.compile`` -- for ResNet-50,
ResNeSt-50, SKNet-50 and SE-ResNeXt-50 with AMP at batch 64, 224x224, with peak GPU memory of
a training step, inside one time budget (8 minutes by default), and writes one JSON and one
markdown table. A phase that runs out of its share of the budget is stopped; what it finished
(whole repeats) is kept and marked partial.

Needs a machine with one NVIDIA GPU and PyTorch; the rest are pure-Python wheels (our backbones
do not use mmcv's compiled ops)::

    pip install mmengine==0.10.7 mmpretrain==1.2.0 timm==1.0.31 mmcv-lite==2.1.0
    # (or mmcv built without ops: MMCV_WITH_OPS=0 pip install --no-build-isolation mmcv==2.1.0)
    python tools/analysis/gpu_report.py --out-dir work_dirs/gpu_report

Dry run on a CPU (the whole path with tiny inputs, bf16 autocast)::

    python tools/analysis/gpu_report.py --device cpu --batch 2 --size 64 --models resnet18 \
        --phases eager eager-cl --out-dir /tmp/gpu_report
"""
import argparse
import importlib
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCHMARK = osp.join(ROOT, 'tools', 'analysis', 'benchmark.py')
PIP_LINE = 'pip install mmengine==0.10.7 mmpretrain==1.2.0 timm==1.0.31 mmcv-lite==2.1.0'
MODELS = ('resnet50', 'resnest50', 'sknet50', 'seresnext50')
# name -> (benchmark flags, share of the budget); compile phases get more: they compile first
PHASES = {
    'eager': ([], 1.0),
    'eager-cl': (['--channels-last'], 1.0),
    'compile': (['--compile'], 2.0),
    'compile-cl': (['--compile', '--channels-last'], 2.0),
}
# targets of the GPU report (issue 7), checked on the eager NCHW phase, where both sides run the
# same way: (numerator, denominator, minimum) of the training throughput
TARGETS = (
    ('resnest50/ours', 'resnet50/ours', 0.72),
    ('resnest50/ours', 'resnest50/mmpretrain', 1.3),
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', nargs='+', default=list(MODELS),
                   help='benchmark model names (tools/analysis/benchmark.py --list)')
    p.add_argument('--phases', nargs='+', default=list(PHASES), choices=list(PHASES))
    p.add_argument('--device', default='cuda', help="'cuda' (the report) or 'cpu' (dry run)")
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--budget', type=float, default=450.0,
                   help='seconds for the four benchmark runs together (default 450: with the '
                        'start-up, 8 minutes in all)')
    p.add_argument('--baseline', default='resnet50',
                   help='also report ours(model) / ours(BASELINE) when BASELINE is benchmarked')
    p.add_argument('--out-dir', default='work_dirs/gpu_report',
                   help='gpu_report.json, gpu_report.md and one benchmark JSON per phase')
    args = p.parse_args(argv)
    for name in ('batch', 'size', 'iters', 'repeats'):
        if getattr(args, name) < 1:
            p.error(f'--{name} must be >= 1, got {getattr(args, name)}')
    if args.budget <= 0:
        p.error(f'--budget must be > 0 seconds, got {args.budget}')
    return args


def environment(device: str) -> dict:
    """Versions of what the benchmark imports; raises ImportError naming the pip line.

    Args:
        device (str): the benchmark device; ``cuda`` must be available when asked for.
    """
    versions, missing = {}, []
    for name in ('torch', 'mmengine', 'mmcv', 'mmpretrain', 'timm'):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f'missing {missing}: run `{PIP_LINE}`')
    import torch
    try:
        importlib.import_module('mmcv._ext')
        versions['mmcv_compiled_ops'] = True
    except ImportError:
        versions['mmcv_compiled_ops'] = False
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            raise RuntimeError('--device cuda: torch sees no GPU (use --device cpu for a dry '
                               'run)')
        versions['gpu'] = torch.cuda.get_device_name()
        versions['cuda'] = torch.version.cuda
    return versions


def run_phase(name: str, args, timeout: float) -> dict:
    """Run benchmark.py for one phase, stopping it after ``timeout`` seconds.

    Returns:
        dict: ``flags``, ``command``, ``wall_s``, ``returncode``, ``complete`` (the run ended
        normally), ``result`` (the benchmark's JSON, or its last per-repeat JSON when
        stopped, or None) and ``log_tail``.
    """
    flags = PHASES[name][0]
    out_json = osp.join(args.out_dir, f'benchmark_{name}.json')
    for path in (out_json, out_json + '.partial'):
        if osp.exists(path):
            os.remove(path)
    cmd = [sys.executable, BENCHMARK, *args.models, '--device', args.device,
           '--batch', str(args.batch), '--size', str(args.size), '--amp',
           '--warmup', str(args.warmup), '--iters', str(args.iters),
           '--repeats', str(args.repeats), '--modes', 'infer', 'train', 'mem',
           '--json', out_json, *flags]
    if args.baseline in args.models and len(args.models) > 1:
        cmd += ['--baseline', args.baseline]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
        stopped = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        stopped = True
    wall = time.perf_counter() - t0
    complete = not stopped and proc.returncode == 0 and osp.exists(out_json)
    path = out_json if complete else out_json + '.partial'
    result = None
    if osp.exists(path):
        with open(path) as f:
            result = json.load(f)
    return dict(flags=flags, command=' '.join(cmd[1:]), wall_s=round(wall, 1),
                returncode=None if stopped else proc.returncode, complete=complete,
                stopped_after_s=round(timeout, 1) if stopped else None, result=result,
                log_tail=(log or '')[-2000:])


def ratio(result: dict, num: str, den: str, mode: str = 'train'):
    """The benchmark's paired ratio ``num / den`` for ``mode``, None when not measured."""
    for q in (result or {}).get('ratios', []):
        if q['num'] == num and q['den'] == den:
            return q.get(mode)
    return None


def check_targets(phase: dict, models) -> list:
    """The :data:`TARGETS` whose networks were benchmarked, on one phase's result.

    Args:
        phase (dict | None): a :func:`run_phase` record (the eager NCHW one); None or a phase
            without a result gives values of None (not measured), never a guess.
        models (Sequence[str]): the benchmarked models.
    """
    targets = []
    for num, den, minimum in TARGETS:
        if num.split('/')[0] not in models or den.split('/')[0] not in models:
            continue
        value = ratio((phase or {}).get('result'), num, den)
        targets.append(dict(target=f'{num} / {den} training', phase='eager', minimum=minimum,
                            value=value, met=None if value is None else value >= minimum))
    return targets


def _cell(v, spec='.0f'):
    return '' if v is None else format(v, spec)


def markdown(report: dict) -> str:
    """The report as markdown: throughput and memory per candidate, then ratios and targets."""
    phases = list(report['phases'])
    opts = report['options']
    lines = [f"GPU report: {report['environment'].get('gpu', report['options']['device'])}, "
             f"AMP, batch {opts['batch']}, {opts['size']}x{opts['size']}; cells are "
             'train / infer img/s (medians of the repeats); peak MiB: one training step.', '']
    for name in phases:
        ph = report['phases'][name]
        state = 'complete' if ph['complete'] else (
            f"stopped after {ph['stopped_after_s']} s, partial" if ph['result'] else
            f"no result (exit {ph['returncode']}, stopped after {ph['stopped_after_s']} s)")
        lines.append(f"- {name}: `{' '.join(ph['flags']) or '(no flags)'}`, {ph['wall_s']} s, "
                     f'{state}')
    lines += ['', '| model | impl | ' + ' | '.join(phases) + ' | ' +
              ' | '.join(f'peak MiB {p}' for p in phases) + ' |',
              '|---|---|' + '---|' * (2 * len(phases))]
    keys = []
    for ph in report['phases'].values():
        for row in (ph['result'] or {}).get('rows', []):
            if (row['model'], row['impl']) not in keys:
                keys.append((row['model'], row['impl']))
    for model, impl in keys:
        speed, mem = [], []
        for name in phases:
            row = next((r for r in (report['phases'][name]['result'] or {}).get('rows', [])
                        if (r['model'], r['impl']) == (model, impl)), None)
            speed.append('' if row is None else
                         f"{_cell(row['train_img_s'])} / {_cell(row['infer_img_s'])}")
            mem.append('' if row is None else _cell(row['peak_mem_mib']))
        lines.append(f'| {model} | {impl} | ' + ' | '.join(speed + mem) + ' |')
    pairs = []
    for ph in report['phases'].values():
        for q in (ph['result'] or {}).get('ratios', []):
            if (q['num'], q['den']) not in pairs:
                pairs.append((q['num'], q['den']))
    if pairs:
        lines += ['', '| ratio (train / infer) | ' + ' | '.join(phases) + ' |',
                  '|---|' + '---|' * len(phases)]
        for num, den in pairs:
            cells = []
            for name in phases:
                res = report['phases'][name]['result']
                tr, inf = ratio(res, num, den, 'train'), ratio(res, num, den, 'infer')
                cells.append('' if tr is None and inf is None else
                             f"{_cell(tr, '.3f')} / {_cell(inf, '.3f')}")
            lines.append(f'| {num} / {den} | ' + ' | '.join(cells) + ' |')
    if report['targets']:
        lines += ['', '| target | phase | value | minimum | met |', '|---|---|---|---|---|']
        for t in report['targets']:
            met = '' if t['value'] is None else ('yes' if t['met'] else 'no')
            lines.append(f"| {t['target']} | {t['phase']} | {_cell(t['value'], '.3f')} | "
                         f"{t['minimum']} | {met} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        env = environment(args.device)
    except (ImportError, RuntimeError) as err:
        print(f'error: {err}')
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    t_start = time.perf_counter()
    phases = {}
    for i, name in enumerate(args.phases):
        left = args.budget - (time.perf_counter() - t_start)
        weights = [PHASES[p][1] for p in args.phases[i:]]
        timeout = max(1.0, left * weights[0] / sum(weights))
        print(f'[gpu_report] phase {name} ({timeout:.0f} s of {left:.0f} s left)', flush=True)
        phases[name] = run_phase(name, args, timeout)
        ph = phases[name]
        print(f"[gpu_report] phase {name}: {ph['wall_s']} s, "
              f"{'complete' if ph['complete'] else 'not complete'}", flush=True)
        if ph['returncode'] not in (None, 0):
            print(ph['log_tail'])
    targets = check_targets(phases.get('eager'), args.models)
    report = dict(command='python tools/analysis/gpu_report.py ' + ' '.join(
                      sys.argv[1:] if argv is None else argv),
                  options={k: v for k, v in vars(args).items()}, environment=env,
                  pip_line=PIP_LINE, total_s=round(time.perf_counter() - t_start, 1),
                  phases=phases, targets=targets)
    json_path = osp.join(args.out_dir, 'gpu_report.json')
    md_path = osp.join(args.out_dir, 'gpu_report.md')
    with open(json_path, 'w') as f:
        json.dump(report, f, indent=1)
    table = markdown(report)
    with open(md_path, 'w') as f:
        f.write(table)
    print(table)
    print(f'[gpu_report] {report["total_s"]} s in all; wrote {json_path} and {md_path}')
    return 0 if all(ph['complete'] for ph in phases.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
