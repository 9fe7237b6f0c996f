"""Plot training curves (mmpretrain style) from mmengine work dirs.

Usage::

    python tools/analysis/plot_logs.py WORK_DIR_OR_SCALARS_JSON [...] [--keys loss accuracy/top1]
        [--out curves.png] [--legend NAME ...]

Each argument is a work dir (its newest ``<timestamp>/vis_data/scalars.json`` is used) or a
``scalars.json`` file. Training scalars (records with ``iter``) are plotted against the
iteration; validation scalars (records without it, logged once per epoch) against the epoch.
One subplot per key, one line per run.
"""
import argparse
import glob
import json
import os
import sys


def find_scalars(path: str) -> str:
    if os.path.isfile(path):
        return path
    found = sorted(glob.glob(os.path.join(path, '*', 'vis_data', 'scalars.json')))
    if not found:
        raise FileNotFoundError(f'no <timestamp>/vis_data/scalars.json under {path}')
    return found[-1]


def load_scalars(path: str):
    """``(train_records, val_records)`` of one scalars.json (JSON lines)."""
    train, val = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            (train if 'iter' in rec else val).append(rec)
    return train, val


def series(records, key, x_key):
    xs, ys = [], []
    for r in records:
        if key in r:
            xs.append(r.get(x_key, len(xs) + 1))
            ys.append(r[key])
    return xs, ys


def plot(runs, keys, out, title=None):
    """``runs``: [(label, train_records, val_records)]. Returns the keys actually plotted."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    plotted = []
    for key in keys:
        if any(series(t, key, 'step')[0] or series(v, key, 'step')[0] for _, t, v in runs):
            plotted.append(key)
    if not plotted:
        raise ValueError(f'none of the keys {keys} occurs in the logs')
    fig, axes = plt.subplots(1, len(plotted), figsize=(5 * len(plotted), 3.6), squeeze=False)
    for ax, key in zip(axes[0], plotted):
        for label, train, val in runs:
            xs, ys = series(train, key, 'step')
            if xs:
                ax.plot(xs, ys, label=label, lw=1)
                ax.set_xlabel('iteration')
            else:
                xs, ys = series(val, key, 'step')
                ax.plot(xs, ys, marker='o', ms=3, label=label)
                ax.set_xlabel('epoch')
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return plotted


def main(argv=None):
    p = argparse.ArgumentParser(description='plot training curves from work dirs')
    p.add_argument('logs', nargs='+', help='work dirs or scalars.json files')
    p.add_argument('--keys', nargs='+', default=['loss', 'accuracy/top1'])
    p.add_argument('--legend', nargs='+', help='one label per log (default: work dir names)')
    p.add_argument('--title')
    p.add_argument('--out', default='curves.png')
    args = p.parse_args(argv)
    if args.legend and len(args.legend) != len(args.logs):
        print(f'error: --legend has {len(args.legend)} labels for {len(args.logs)} logs')
        return 2
    runs = []
    for i, path in enumerate(args.logs):
        try:
            scalars = find_scalars(path)
        except FileNotFoundError as err:
            print(f'error: {err}')
            return 2
        label = args.legend[i] if args.legend else os.path.basename(os.path.normpath(path))
        runs.append((label, *load_scalars(scalars)))
    try:
        plotted = plot(runs, args.keys, args.out, args.title)
    except ValueError as err:
        print(f'error: {err}')
        return 2
    print(f"plotted {', '.join(plotted)} of {len(runs)} run(s) to {args.out}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
