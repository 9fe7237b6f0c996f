"""mmresfam.engine.allocator: glibc keeps freed memory, once, unless the user decided."""
import os
import subprocess
import sys

import pytest

from mmresfam.engine import allocator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _FakeLibc:
    """Records ``mallopt`` calls instead of changing this test process's allocator."""

    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


@pytest.fixture
def undecided(monkeypatch):
    """A process state where nothing was decided yet and no allocator variable is set."""
    monkeypatch.setattr(allocator, '_state', None)
    for key in list(os.environ):
        if key.startswith('MALLOC_') or key in ('GLIBC_TUNABLES', allocator.SWITCH):
            monkeypatch.delenv(key)


@pytest.fixture
def libc(undecided, monkeypatch):
    fake = _FakeLibc()
    monkeypatch.setattr(allocator, '_glibc_malloc', lambda: fake)
    return fake


def test_applied_once(libc):
    assert allocator.keep_freed_memory() == 'applied'
    assert allocator.keep_freed_memory() == 'applied'
    assert libc.calls == [(allocator.M_MMAP_THRESHOLD, 2**31 - 1),
                          (allocator.M_TRIM_THRESHOLD, -1)]


@pytest.mark.parametrize('key,value', [('MALLOC_TRIM_THRESHOLD_', '0'),
                                       ('MALLOC_ARENA_MAX', '2'),
                                       ('GLIBC_TUNABLES', 'glibc.malloc.mmap_threshold=65536'),
                                       ('MMRESFAM_KEEP_FREED_MEMORY', '0')])
def test_user_setting_wins(libc, monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    assert allocator.keep_freed_memory() == f'user setting {key}={value}'
    assert allocator.keep_freed_memory() == f'user setting {key}={value}'
    assert libc.calls == []


def test_unrelated_tunables_do_not_count(libc, monkeypatch):
    monkeypatch.setenv('GLIBC_TUNABLES', 'glibc.cpu.hwcaps=-AVX512F')
    assert allocator.keep_freed_memory() == 'applied'


def test_no_op_without_glibc(undecided, monkeypatch):
    monkeypatch.setattr(allocator.platform, 'libc_ver', lambda: ('musl', '1.2'))
    assert allocator._glibc_malloc() is None
    assert allocator.keep_freed_memory() == 'not glibc'
    monkeypatch.setattr(allocator.platform, 'system', lambda: 'Darwin')
    assert allocator._glibc_malloc() is None


# Training steps of a small network with activations above glibc's largest dynamic mmap
# threshold (32 MiB on 64-bit): with glibc's defaults every step maps them afresh and faults
# their pages in again; smaller tensors would let glibc adapt on its own, and the count would
# depend on the history of the process. Minor page faults counted after five warm-up steps.
_STEP = '''
import resource, sys
import torch
import mmresfam
from mmresfam.engine import keep_freed_memory
if sys.argv[1] == 'keep':
    assert keep_freed_memory() == 'applied'
torch.set_num_threads(1)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                            torch.nn.ReLU(), torch.nn.Conv2d(16, 4, 3, padding=1))
optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
x = torch.randn(1, 3, 1024, 1024)  # 16-channel activations: 64 MiB each
def step():
    model(x).mean().backward()
    optim.step()
    optim.zero_grad(set_to_none=True)
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print('FAULTS', (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
'''


def _faults_per_step(mode):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('MALLOC_') and k not in ('GLIBC_TUNABLES', allocator.SWITCH)}
    env['PYTHONPATH'] = ROOT
    out = subprocess.run([sys.executable, '-c', _STEP, mode], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return float(out.stdout.split('FAULTS')[-1])


@pytest.mark.skipif(allocator._glibc_malloc() is None, reason='glibc malloc only')
def test_fewer_page_faults_per_training_step():
    default, kept = _faults_per_step('default'), _faults_per_step('keep')
    assert default > 10_000, default  # the workload does fault with glibc's defaults
    assert kept < 0.2 * default, (kept, default)
