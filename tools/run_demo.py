"""The README's demo: prepare the digits data, train a config, evaluate it, print val top-1.

    python tools/run_demo.py [CONFIG] [--work-dir DIR] [train.py flags ...]

Runs ``tools/train.py`` (progress from mmengine's logger, ``curves.png`` in the work dir), then
``tools/test.py`` on the final checkpoint, and prints ``digits val top-1: XX.XX %``.
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = 'configs/demo/resnet18_1xb32_digits.py'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default=None)
    args, train_args = parser.parse_known_args(argv)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'demo', osp.splitext(osp.basename(args.config))[0])
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    py = sys.executable

    subprocess.run([py, 'tools/dataset_converters/prepare_digits.py', '--out', 'data/digits'],
                   cwd=ROOT, env=env, check=True)
    t0 = time.time()
    subprocess.run([py, 'tools/train.py', args.config, '--work-dir', work_dir, *train_args],
                   cwd=ROOT, env=env, check=True)
    train_s = time.time() - t0
    # Evaluate the final checkpoint, not the best-on-val one: picking the epoch by the same
    # val set would flatter the number.
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    out = subprocess.run([py, 'tools/test.py', args.config, ckpt, '--work-dir',
                          osp.join(work_dir, 'test')],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr[-2000:])
    match = re.search(r'accuracy/top1: ([0-9.]+)', out.stdout)
    if not match:
        sys.exit(f'could not read top-1 from tools/test.py output:\n{out.stdout}')
    print(f'\ndigits val top-1: {float(match.group(1)):.2f} % '
          f'(config {args.config}, checkpoint {osp.relpath(ckpt, ROOT)}, '
          f'training {train_s / 60:.1f} min; curves: {work_dir}/curves.png)')


if __name__ == '__main__':
    main()
