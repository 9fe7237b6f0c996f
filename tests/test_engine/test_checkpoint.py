"""Checkpoints survive a kill: SafeCheckpointHook and the atomic file backend."""
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from conftest import ROOT, run_tool

DEMO = 'configs/demo/resnet18_1xb32_digits.py'
SHORT = ['train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=32',
         'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0']

# Runs a tool with every file write to a name containing STALL_NAME cut in half and stalled
# (as on a slow disk), after touching STALL_MARKER: the test then kills the process mid-write.
STALLING_LAUNCHER = textwrap.dedent('''
    import builtins, os, runpy, sys, time
    real_open = builtins.open

    class Stalling:
        def __init__(self, f):
            self._f = f
        def write(self, data):
            self._f.write(data[:len(data) // 2])
            self._f.flush()
            real_open(os.environ['STALL_MARKER'], 'w').close()
            time.sleep(600)
        def __getattr__(self, name):
            return getattr(self._f, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self._f.__exit__(*exc)

    def stalling_open(file, mode='r', *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if 'w' in mode and os.environ['STALL_NAME'] in os.path.basename(str(file)):
            return Stalling(f)
        return f

    builtins.open = stalling_open
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')


def test_atomic_backend_writes_whole_files(tmp_path):
    from mmengine.fileio import get_file_backend

    from mmresfam.engine import AtomicLocalBackend
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    path = tmp_path / 'sub' / 'a.pth'
    backend.put(b'x' * 10, str(path))
    backend.put_text('hello', str(tmp_path / 'b.txt'))
    assert path.read_bytes() == b'x' * 10 and (tmp_path / 'b.txt').read_text() == 'hello'
    assert sorted(os.listdir(tmp_path / 'sub')) == ['a.pth']  # no .part left behind


def test_kill_during_checkpoint_save_leaves_a_resumable_run(tmp_path, digits_root):
    """kill -9 while epoch_2.pth is half written (max_keep_ckpts=1, as in the demo): the
    previous checkpoint must still exist, last_checkpoint must name it, and --resume must
    finish the run."""
    work = tmp_path / 'run'
    launcher = tmp_path / 'stalling.py'
    launcher.write_text(STALLING_LAUNCHER)
    marker = tmp_path / 'stalled'
    env = dict(os.environ, PYTHONPATH=ROOT, STALL_NAME='epoch_2.pth', STALL_MARKER=str(marker))
    env.pop('MMRESFAM_DEBUG', None)
    proc = subprocess.Popen(
        [sys.executable, str(launcher), 'tools/train.py', DEMO, '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_epochs=2', *SHORT], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 400
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.time() < deadline, 'the save of epoch_2.pth never started'
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    pointer = (work / 'last_checkpoint').read_text().strip()
    assert osp.basename(pointer) == 'epoch_1.pth'
    state = torch.load(pointer, map_location='cpu')  # complete, readable with the defaults
    assert {'optimizer', 'param_schedulers'} <= set(state) and state['meta']['epoch'] == 1
    assert not (work / 'epoch_2.pth').exists()

    proc = run_tool('tools/train.py', DEMO, '--resume', '--work-dir', str(work),
                    '--cfg-options', 'train_cfg.max_epochs=2', *SHORT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 1' in (proc.stdout + proc.stderr).lower()
    assert (work / 'epoch_2.pth').is_file() and not (work / 'epoch_1.pth').exists()
    assert osp.basename((work / 'last_checkpoint').read_text().strip()) == 'epoch_2.pth'


@pytest.mark.parametrize('save_best', [False, True])
def test_outdated_checkpoints_removed_after_the_new_one(tmp_path, save_best):
    """Unit check of the order: while the new file is written, the old one still exists."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub, MMLogger

    from mmresfam.engine import SafeCheckpointHook
    seen = []

    class Runner:
        work_dir = str(tmp_path)
        epoch, iter, rank = 0, 0, 0
        message_hub = MessageHub.get_instance(f'test_safe_ckpt_{save_best}')
        logger = MMLogger.get_instance('test_safe_ckpt')
        train_loop = SimpleNamespace(max_epochs=3, max_iters=3)
        max_epochs, max_iters = 3, 3

        def save_checkpoint(self, out_dir, filename, *args, **kwargs):
            seen.append((filename, sorted(os.listdir(out_dir))))
            with open(osp.join(out_dir, filename), 'wb') as f:
                f.write(b'ckpt')

    runner = Runner()
    kwargs = dict(save_best='acc', rule='greater') if save_best else {}
    hook = SafeCheckpointHook(interval=1, max_keep_ckpts=1, **kwargs)
    hook.before_train(runner)
    for epoch in range(3):
        runner.epoch = epoch
        hook.after_train_epoch(runner)
        if save_best:
            runner.epoch = epoch + 1
            hook.after_val_epoch(runner, {'acc': float(epoch)})
    # every write of epoch_N (N > 1) found epoch_N-1 still on disk
    first = {}
    for name, files in seen:
        first.setdefault(name, files)
    later = [(name, first[name]) for name in ('epoch_2.pth', 'epoch_3.pth')]
    assert all(f'epoch_{int(name[6]) - 1}.pth' in files for name, files in later)
    files = sorted(os.listdir(tmp_path))
    assert 'epoch_3.pth' in files and 'epoch_1.pth' not in files and 'epoch_2.pth' not in files
    if save_best:
        assert [f for f in files if f.startswith('best_')] == ['best_acc_epoch_3.pth']
