"""Shared fixtures: the repository root, a prepared digits folder, a tool runner."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _isolated_default_scope():
    """Give every test the default-scope state the session started with.

    ``init_default_scope``/``register_all_modules`` (and building a runner) leave mmengine's
    current ``DefaultScope`` changed for the rest of the process; under pytest-xdist which tests
    share a process depends on timing, so a leaked scope made results order-dependent.
    """
    from mmengine.registry import DefaultScope
    saved = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.fixture(scope='session')
def repo_root():
    return ROOT


@pytest.fixture(scope='session')
def digits_root(tmp_path_factory):
    """The digits demo folder, prepared once per session under ``data/digits``."""
    from dataset_converters.prepare_digits import prepare
    out = osp.join(ROOT, 'data', 'digits')
    prepare(out, size=32, verbose=False)
    return out


def run_tool(*args, timeout=600, env=None, cwd=ROOT):
    """Run ``python tools/<script> args`` in a subprocess; return the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    full_env.pop('MMRESFAM_DEBUG', None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope='session')
def tool():
    return run_tool
