"""The README's demos: prepare the data, train a config, evaluate it on held-out images, print
the metric.

    python tools/run_demo.py [CONFIG] [--work-dir DIR] [--cfg-options K=V ...]
        [train.py flags ...]

The config's scope picks the task and its generated data:

* classification (MMPreTrain, ``make demo``): the digits, prints val top-1;
* detection (MMDetection, ``make demo-det``): the shapes in the COCO layout, prints bbox mAP;
* segmentation (MMSegmentation, ``make demo-seg``): the shapes label maps, prints mIoU.

Runs ``tools/train.py`` (progress from mmengine's logger, ``curves.png`` in the work dir), then
``tools/test.py`` on the final checkpoint. Detection and segmentation also draw the predictions
on val images (``--show-dir``) and tile the first eight into ``<work dir>/predictions.png``.
``--cfg-options`` go to both tools (the data is generated in the resulting ``data_root``).
"""
import argparse
import glob
import os
import os.path as osp
import re
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = 'configs/demo/resnet18_1xb32_digits.py'
SHOWN = 8  # val images tiled into predictions.png

# scope -> (data command, metric regex of tools/test.py's output, printed name, percent)
TASKS = {
    'mmpretrain': dict(
        data=['tools/dataset_converters/prepare_digits.py', '--out', '{root}'],
        metrics=r'(accuracy/top1): ([0-9.]+)', name='digits val top-1', show=False),
    'mmdet': dict(
        data=['tools/dataset_converters/make_shapes_coco.py', '--out', '{root}',
              '--num-train', '1000', '--num-val', '200', '--size', '128'],
        metrics=r'(coco/bbox_mAP(?:_50|_75)?): ([0-9.]+)', name='shapes val bbox', show=True),
    'mmseg': dict(
        data=['tools/dataset_converters/make_shapes_seg.py', '--out', '{root}',
              '--num-train', '1000', '--num-val', '200', '--size', '96'],
        metrics=r'\b(mIoU|aAcc|mAcc): ([0-9.]+)', name='shapes val', show=True),
}


def tile_predictions(show_dir, out_path, count=SHOWN):
    """Tile the first ``count`` drawn val images (sorted by name) into one picture."""
    import cv2
    import numpy as np
    files = sorted(f for f in glob.glob(osp.join(show_dir, '**', '*'), recursive=True)
                   if f.lower().endswith(('.png', '.jpg')))[:count]
    if not files:
        sys.exit(f'tools/test.py --show-dir drew no image in {show_dir}')
    images = [cv2.imread(f) for f in files]
    h = max(i.shape[0] for i in images)
    images = [cv2.resize(i, (round(i.shape[1] * h / i.shape[0]), h)) for i in images]
    images += [np.zeros_like(images[0])] * (-len(images) % 4)
    rows = [np.concatenate(images[i:i + 4], axis=1) for i in range(0, len(images), 4)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(out_path, np.concatenate(rows, axis=0))
    return len(files)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='KEY=VALUE overrides for tools/train.py and tools/test.py')
    args, train_args = parser.parse_known_args(argv)
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(ROOT, args.config), import_custom_modules=False)
    options = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
    if args.cfg_options:
        action = DictAction(option_strings=['--cfg-options'], dest='cfg_options')
        parsed = argparse.Namespace()
        action(parser, parsed, args.cfg_options)
        cfg.merge_from_dict(parsed.cfg_options)
    scope = cfg.get('default_scope', 'mmpretrain')
    if scope not in TASKS:
        sys.exit(f'config scope must be one of {sorted(TASKS)}, got {scope!r}')
    task = TASKS[scope]
    root = cfg.train_dataloader.dataset.data_root.rstrip('/')
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'demo', osp.splitext(osp.basename(args.config))[0])
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    py = sys.executable

    subprocess.run([py, *[a.format(root=root) for a in task['data']]], cwd=ROOT, env=env,
                   check=True)
    t0 = time.time()
    subprocess.run([py, 'tools/train.py', args.config, '--work-dir', work_dir, *options,
                    *train_args], cwd=ROOT, env=env, check=True)
    train_s = time.time() - t0
    # Evaluate the final checkpoint, not the best-on-val one: picking the epoch by the same
    # val set would flatter the number.
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    test_dir = osp.join(work_dir, 'test')
    show_dir = osp.join(ROOT, test_dir, 'show')
    show = ['--show-dir', show_dir] if task['show'] else []
    out = subprocess.run([py, 'tools/test.py', args.config, ckpt, '--work-dir', test_dir, *show,
                          *options],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr[-2000:])
    metrics = dict(re.findall(task['metrics'], out.stdout))
    if not metrics:
        sys.exit(f'could not read the metrics from tools/test.py output:\n{out.stdout}')
    pictures = ''
    if task['show']:
        n = tile_predictions(show_dir, osp.join(ROOT, work_dir, 'predictions.png'))
        pictures = f'; {n} val predictions drawn: {work_dir}/predictions.png'
    if scope == 'mmpretrain':
        result = f"{float(metrics['accuracy/top1']):.2f} %"
    elif scope == 'mmdet':  # CocoMetric: fractions
        result = ', '.join(f'{k.split("/")[-1]} {float(v):.3f}' for k, v in metrics.items())
    else:  # accuracy and IoUMetric: percentages
        result = ', '.join(f'{k.split("/")[-1]} {float(v):.2f} %' for k, v in metrics.items())
    print(f"\n{task['name']}: {result} "
          f'(config {args.config}, checkpoint {osp.relpath(ckpt, ROOT)}, '
          f'training {train_s / 60:.1f} min; curves: {work_dir}/curves.png{pictures})')


if __name__ == '__main__':
    main()
