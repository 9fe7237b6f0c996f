"""A digits classifier trained once per test session, for the inference and analysis tests.

The held-out images are the digits val split written by
``tools/dataset_converters/prepare_digits.py`` into a temporary folder; the model is the
fastest member of ``configs/demo`` (SGE-ResNet-18 at 1/4 width), trained by ``tools/train.py``
on the train split for :data:`EPOCHS` epochs with a fixed seed, one thread (on the shared
2-core machine two threads per process made it 20x slower). Under pytest-xdist the workers
share one run (a file lock in the session's common temporary folder).
"""
import json
import os
import os.path as osp
import re

import pytest

from conftest import ROOT, run_tool

CONFIG = osp.join(ROOT, 'configs', 'demo', 'sge-resnet18_1xb32_digits.py')
# Warm-up 1 epoch, cosine decay over the other four: 97.5-98.1 % val top-1 with seeds 0-3 on the
# AMD EPYC machine (README, "Inference"), where 3 epochs gave 91.6 % with seed 0 (96.7-97.8 % on
# the Intel machine: its kernels round differently).
EPOCHS = 5
SEED = 0


def data_options(data_root):
    """``--cfg-options`` pointing every digits dataloader at ``data_root``, in-process."""
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data_root}', f'{loader}.num_workers=0']
    return opts


def _train(out):
    from dataset_converters.prepare_digits import prepare
    from test_tools._helpers import load_tool

    from mmengine.config import Config
    data_root = osp.join(out, 'digits')
    prepare(data_root, size=32, verbose=False)
    schedule = load_tool('tools/analysis/family_digits.py').schedule_options(
        Config.fromfile(CONFIG), EPOCHS)
    work_dir = osp.join(out, 'work')
    proc = run_tool('tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
                    *data_options(data_root), *schedule, f'randomness.seed={SEED}',
                    f'train_cfg.val_interval={EPOCHS}', env=dict(OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    # the runner's own val top-1 of the final checkpoint, to compare with the demo's
    val_top1 = float(re.findall(r'accuracy/top1: ([0-9.]+)', proc.stdout + proc.stderr)[-1])
    return dict(config=CONFIG, checkpoint=checkpoint, data_root=data_root, val_top1=val_top1)


@pytest.fixture(scope='session')
def digits_model(tmp_path_factory):
    """``dict(config, checkpoint, data_root, val_top1)`` of the trained digits classifier."""
    from filelock import FileLock
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base
    out = shared / 'digits_model'
    with FileLock(str(shared / 'digits_model.lock')):
        done = out / 'done.json'
        if not done.is_file():
            out.mkdir(exist_ok=True)
            done.write_text(json.dumps(_train(str(out))))
    return json.loads(done.read_text())


@pytest.fixture(scope='session')
def val_images(digits_model):
    """``[(path, class name)]`` of every held-out (val) image."""
    val = osp.join(digits_model['data_root'], 'val')
    return [(osp.join(val, c, f), c) for c in sorted(os.listdir(val))
            for f in sorted(os.listdir(osp.join(val, c)))]
