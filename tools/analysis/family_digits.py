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
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tools'), os.path.join(ROOT, 'tools', 'analysis')]
from _cli import run_main  # noqa: E402

from analysis._lib.family import (finished_run, run_family_table, run_script,  # noqa: E402
                                  save_run)


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
    done = finished_run(work_dir, force, epochs=epochs)
    if done:
        log(f'reuse {work_dir}')
        return done
    cfg = Config.fromfile(config)
    _, wall = run_script([os.path.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
                          work_dir, '--cfg-options', *schedule_options(cfg, epochs)],
                         f'training {config}', log)
    return save_run(work_dir, dict(epochs=epochs, wall_s=wall))


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

    def run_one(name, config):
        wd = os.path.join(args.work_dir, name)
        done = train(config, wd, args.epochs, args.force)
        tr, val = read_run(wd)
        accs = [v['accuracy/top1'] for v in val if 'accuracy/top1' in v]
        params, flops = measure_config(config)
        return dict(model=name, config=config, top1_last=accs[-1] if accs else None,
                    top1_best=max(accs) if accs else None, params=params, flops=flops,
                    s_per_epoch=epoch_seconds(tr, args.epochs), wall_s=done['wall_s'],
                    epochs=args.epochs)

    return run_family_table(
        [(os.path.basename(c).split('_')[0], c) for c in configs], run_one,
        lambda r: f"{r['model']:26s} top1 {r['top1_last']}  params {r['params'] / 1e6:.3f} M",
        format_table, bar_chart, args)


def format_table(rows, epochs):
    lines = [f'| model | config | val top-1 (last, {epochs} ep) | best | params (M) | '
             'MFLOPs @32 | s / epoch |', '|---|---|---|---|---|---|---|']
    for r in sorted(rows, key=lambda r: -(r.get('top1_last') or -1)):
        config = os.path.relpath(r['config'], ROOT)
        if r.get('error'):
            lines.append(f"| {r['model']} | `{config}` | failed | | | | |")
            continue
        lines.append(f"| {r['model']} | `{config}` | {r['top1_last']:.2f} | "
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
    run_main(main)
