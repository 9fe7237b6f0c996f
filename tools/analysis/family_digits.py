"""Train every member's digits demo config with the same schedule and compare them.

Usage::

    python tools/analysis/family_digits.py [CONFIG ...] [--epochs 5] [--work-dir
        work_dirs/family_digits] [--out docs/family_digits.md] [--png family_digits.png]

Default configs: every ``configs/demo/*_digits.py``. Each is trained with ``tools/train.py``
for ``--epochs`` epochs (the cosine schedule is shortened to match, so every member gets the
same warm-up + cosine schedule) and the table reports: the last and the best val top-1, the
parameters and FLOPs (mmengine.analysis at 32x32), and seconds per training epoch (wall clock
of the training iterations from the log, data loading included). A bar chart of val top-1
(with params on the second axis) is written to ``--png``; the rows also go to ``--json``.
Runs already finished in the work dir are reused unless ``--force``.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tools'), os.path.join(ROOT, 'tools', 'analysis')]


def schedule_options(cfg, epochs: int):
    """``--cfg-options`` that shorten the config's schedule to ``epochs`` (>= 2) epochs.

    The warm-up keeps its length up to a fifth of the run (at least one epoch); the cosine
    decay fills the rest.
    """
    if epochs < 2:
        raise ValueError(f'--epochs must be >= 2 (warm-up + decay), got {epochs}')
    opts = [f'train_cfg.max_epochs={epochs}']
    scheds = cfg.get('param_scheduler', []) or []
    warm = 0
    for i, sched in enumerate(scheds):
        if sched.get('type') == 'LinearLR':
            warm = min(sched.get('end', 1), max(1, epochs // 5))
            opts.append(f'param_scheduler.{i}.end={warm}')
    for i, sched in enumerate(scheds):
        if sched.get('type') == 'CosineAnnealingLR':
            opts += [f'param_scheduler.{i}.begin={warm}',
                     f'param_scheduler.{i}.T_max={epochs - warm}',
                     f'param_scheduler.{i}.end={epochs}']
    return opts


def train(config, work_dir, epochs, force=False, log=print):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    marker = os.path.join(work_dir, 'family_done.json')
    if os.path.isfile(marker) and not force:
        with open(marker) as f:
            done = json.load(f)
        if done.get('epochs') == epochs:
            log(f'reuse {work_dir}')
            return done
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
           work_dir, '--cfg-options', *schedule_options(cfg, epochs)]
    log(' '.join(cmd))
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    wall = time.time() - t0
    if res.returncode != 0:
        raise RuntimeError(f'training {config} failed:\n{res.stdout[-1500:]}\n'
                           f'{res.stderr[-3000:]}')
    done = dict(epochs=epochs, wall_s=wall)
    with open(marker, 'w') as f:
        json.dump(done, f)
    return done


def read_run(work_dir):
    """(train records, val records) of the newest log in ``work_dir``."""
    from plot_logs import find_scalars, load_scalars
    return load_scalars(find_scalars(work_dir))


def epoch_seconds(train_records, epochs):
    """Seconds per epoch: sum of the logged per-iteration times, scaled to every iteration."""
    per_epoch = {}
    for r in train_records:
        per_epoch.setdefault(r['epoch'], []).append(r['time'])
    if not per_epoch:
        return None
    iters = max(r['iter'] for r in train_records) / max(per_epoch)
    mean_iter = sum(sum(v) for v in per_epoch.values()) / sum(map(len, per_epoch.values()))
    return mean_iter * iters


def measure_config(config):
    from mmengine.config import Config

    from analysis._lib.zoo import build_classifier, measure
    return measure(build_classifier(Config.fromfile(config)), 32)


def main(argv=None):
    p = argparse.ArgumentParser(description='train and compare the digits demo configs')
    p.add_argument('configs', nargs='*')
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', 'family_digits'))
    p.add_argument('--out', help='markdown table file')
    p.add_argument('--json', help='rows as JSON')
    p.add_argument('--png', default='family_digits.png')
    p.add_argument('--force', action='store_true', help='retrain finished runs')
    args = p.parse_args(argv)
    configs = args.configs or sorted(glob.glob(os.path.join(ROOT, 'configs/demo/*_digits.py')))
    rows = []
    for config in configs:
        name = os.path.basename(config).split('_')[0]
        wd = os.path.join(args.work_dir, name)
        try:
            done = train(config, wd, args.epochs, args.force)
        except RuntimeError as err:
            print(f'FAILED {name}: {err}')
            rows.append(dict(model=name, config=os.path.relpath(config, ROOT), error=True))
            continue
        tr, val = read_run(wd)
        accs = [v['accuracy/top1'] for v in val if 'accuracy/top1' in v]
        params, flops = measure_config(config)
        rows.append(dict(model=name, config=os.path.relpath(config, ROOT),
                         top1_last=accs[-1] if accs else None,
                         top1_best=max(accs) if accs else None, params=params, flops=flops,
                         s_per_epoch=epoch_seconds(tr, args.epochs), wall_s=done['wall_s'],
                         epochs=args.epochs))
        print(f"{name:26s} top1 {rows[-1]['top1_last']}  params {params / 1e6:.3f} M")
    table = format_table(rows, args.epochs)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    ok = [r for r in rows if not r.get('error')]
    if ok:
        bar_chart(ok, args.png, args.epochs)
        print(f'wrote {args.png}')
    return 1 if len(ok) < len(rows) else 0


def format_table(rows, epochs):
    lines = [f'| model | config | val top-1 (last, {epochs} ep) | best | params (M) | '
             'MFLOPs @32 | s / epoch |', '|---|---|---|---|---|---|---|']
    for r in sorted(rows, key=lambda r: -(r.get('top1_last') or -1)):
        if r.get('error'):
            lines.append(f"| {r['model']} | `{r['config']}` | failed | | | | |")
            continue
        lines.append(f"| {r['model']} | `{r['config']}` | {r['top1_last']:.2f} | "
                     f"{r['top1_best']:.2f} | {r['params'] / 1e6:.3f} | "
                     f"{r['flops'] / 1e6:.1f} | {r['s_per_epoch']:.1f} |")
    return '\n'.join(lines)


def bar_chart(rows, path, epochs):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = sorted(rows, key=lambda r: -r['top1_last'])
    names = [r['model'] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows)), 4))
    ax.bar(range(len(rows)), [r['top1_last'] for r in rows], color='tab:blue')
    ax.set_ylabel(f'val top-1 (%) after {epochs} epochs')
    lo = min(r['top1_last'] for r in rows)
    ax.set_ylim(max(0, lo - 5), 100)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names, rotation=45, ha='right', fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(range(len(rows)), [r['params'] / 1e6 for r in rows], 'o', color='tab:orange')
    ax2.set_ylabel('params (M)', color='tab:orange')
    ax.set_title('mmresfam family on the digits demo data (same schedule)')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == '__main__':
    sys.exit(main())
