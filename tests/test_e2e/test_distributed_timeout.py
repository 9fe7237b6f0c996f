"""A hung rank ends a 2-process CPU job within env_cfg.dist_cfg.timeout (set from the command
line), instead of gloo's default 30 minutes."""
import os
import subprocess
import sys
import textwrap
import time

from conftest import ROOT
from test_e2e.test_distributed import DEMO, free_port

# rank 1 stops answering at its second training iteration (as a stuck data loader or a
# deadlocked process would); rank 0 then waits for it in DDP's gradient all-reduce
HANGING_LAUNCHER = textwrap.dedent('''
    import os, runpy, sys, time
    from mmengine.runner import loops
    run_iter = loops.EpochBasedTrainLoop.run_iter

    def hanging_run_iter(self, idx, data_batch):
        if os.environ['RANK'] == '1' and idx == 1:
            time.sleep(3600)
        return run_iter(self, idx, data_batch)

    loops.EpochBasedTrainLoop.run_iter = hanging_run_iter
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')


def test_hung_rank_ends_the_job_within_the_timeout(tmp_path, digits_root):
    launcher = tmp_path / 'hanging.py'
    launcher.write_text(HANGING_LAUNCHER)
    timeout = 10
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    env.pop('MMRESFAM_DEBUG', None)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           f'--master_port={free_port()}', str(launcher), 'tools/train.py', DEMO,
           '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'work'), '--cfg-options',
           f'env_cfg.dist_cfg.timeout={timeout}', 'train_dataloader.dataset.indices=64',
           'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
           'val_dataloader.num_workers=0', 'train_cfg.max_epochs=1']
    start = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    took = time.time() - start
    assert proc.returncode != 0, proc.stderr[-3000:]
    # start-up (two processes importing the stack) + the timeout + torchrun's clean-up
    assert took < 180, took
    assert 'timed out' in proc.stderr.lower() or 'timeout' in proc.stderr.lower(), \
        proc.stderr[-3000:]
