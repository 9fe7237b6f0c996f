"""Distributed training on CPU: the digits demo through tools/dist_train.sh (torchrun,
``--launcher pytorch``, 2 processes, gloo from the config's ``env_cfg``), then
tools/dist_test.sh, then ``--resume``.
"""
import glob
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest

from conftest import ROOT

DEMO = 'configs/demo/resnet18_1xb32_digits.py'
# 64 training images, 16 per process and iteration: 2 iterations per epoch with 2 processes
# (4 in a single process). log_level=DEBUG makes mmengine write one log file per rank.
OPTIONS = ['train_dataloader.dataset.indices=64', 'train_dataloader.batch_size=16',
           'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
           'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1',
           'default_hooks.checkpoint.save_best=None', 'log_level=DEBUG']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_sh(script, *args, timeout=300):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), PYTHONPATH=ROOT,
               OMP_NUM_THREADS='1')
    env.pop('MMRESFAM_DEBUG', None)
    return subprocess.run(['bash', script, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def rank_logs(work):
    """{rank: text} of the newest run's per-rank log files."""
    run = sorted(glob.glob(osp.join(work, '2*')))[-1]
    logs = {}
    for path in glob.glob(osp.join(run, '*.log')):
        rank = int(re.search(r'rank(\d+)\.log$', path).group(1))
        with open(path) as f:
            logs[rank] = f.read()
    return logs


def iter_losses(text):
    return re.findall(r'Epoch\(train\) +\[(\d+)\]\[(\d+)/(\d+)\].*?loss: ([0-9.]+)', text)


@pytest.fixture(scope='module')
def first_epoch(tmp_path_factory, digits_root):
    work = str(tmp_path_factory.mktemp('dist'))
    proc = run_sh('tools/dist_train.sh', DEMO, '2', '--work-dir', work, '--cfg-options',
                  'train_cfg.max_epochs=1', *OPTIONS)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return work, proc


def test_both_ranks_train_on_split_data(first_epoch):
    work, proc = first_epoch
    logs = rank_logs(work)
    assert set(logs) == {0, 1}
    assert 'Distributed training: True' in logs[0] and 'GPU number: 2' in logs[0]
    per_rank = {r: iter_losses(text) for r, text in logs.items()}
    for rank, rows in per_rank.items():
        # the sampler gives each rank 32 of the 64 images: 2 iterations of 16, not 4
        assert [(e, i, n) for e, i, n, _ in rows] == [('1', '1', '2'), ('1', '2', '2')], rank
    # same weights (DDP broadcast from rank 0), different data: different first losses
    assert per_rank[0][0][3] != per_rank[1][0][3]
    assert "dist_cfg: {'backend': 'gloo', 'timeout': 300}" in logs[0]  # the config's env_cfg


def test_one_checkpoint_and_evaluation(first_epoch):
    work, proc = first_epoch
    ckpts = sorted(osp.basename(p) for p in glob.glob(osp.join(work, '*.pth')))
    assert ckpts == ['epoch_1.pth']
    assert re.search(r'Epoch\(val\) \[1\]\[\d+/\d+\] +accuracy/top1: [0-9.]+', proc.stdout +
                     proc.stderr)
    proc = run_sh('tools/dist_test.sh', DEMO, osp.join(work, 'epoch_1.pth'), '2',
                  '--work-dir', osp.join(work, 'test'), '--cfg-options',
                  'test_dataloader.num_workers=0')
    assert proc.returncode == 0, proc.stderr[-4000:]
    # printed once, by rank 0, over the whole val split gathered from both ranks
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('accuracy/top1: ')]
    assert len(lines) == 1, proc.stdout[-2000:]
    assert 0.0 <= float(lines[0].split(': ')[1]) <= 100.0


def test_resume_continues_from_saved_epoch(first_epoch):
    work, _ = first_epoch
    proc = run_sh('tools/dist_train.sh', DEMO, '2', '--work-dir', work, '--resume',
                  '--cfg-options', 'train_cfg.max_epochs=2', *OPTIONS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    logs = rank_logs(work)
    assert 'resumed epoch: 1' in logs[0].lower()
    for rank in (0, 1):
        epochs = {e for e, *_ in iter_losses(logs[rank])}
        assert epochs == {'2'}, (rank, epochs)
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))

