"""tools/mmcv_build_env.py: CUDA or CPU ops for mmcv, decided from faked machine probes."""
import os
import subprocess

import pytest

from test_tools._helpers import ROOT, load_tool

tool = load_tool('tools/mmcv_build_env.py')
CPU_KEY = 'mmcv-2.1.0-torch2.14.1-py311'


def _probes(**kw):
    base = dict(torch_version='2.14.1+cu130', torch_cuda='13.0', gpu_capabilities=[(9, 0)],
                cuda_home='/opt/cuda-13.0', nvcc_cuda='13.0', python_tag='py311')
    base.update(kw)
    return tool.Probes(**base)


def _select(env=None, **kw):
    return tool.select(_probes(**kw), '2.1.0', env or {})


def test_cpu_torch_builds_cpu_ops_under_the_existing_cache_key():
    choice = _select(torch_version='2.14.1+cpu', torch_cuda=None, gpu_capabilities=[],
                     cuda_home=None, nvcc_cuda=None)
    assert choice.kind == 'cpu'
    # the key CPU-ops wheels had before CUDA builds existed: a cached wheel is reused
    assert choice.cache_key == CPU_KEY
    assert choice.env == {'MMCV_WITH_OPS': '1', 'FORCE_CUDA': '0', 'CUDA_VISIBLE_DEVICES': ''}
    assert 'CPU-only' in choice.note


def test_nvcc_and_cuda_torch_and_gpu_build_cuda_ops_for_that_gpu():
    choice = _select(gpu_capabilities=[(9, 0), (8, 0), (9, 0)])
    assert choice.kind == 'cuda'
    assert choice.env['FORCE_CUDA'] == '1'
    assert choice.env['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0'
    assert choice.env['CUDA_HOME'] == '/opt/cuda-13.0'
    assert 'CUDA_VISIBLE_DEVICES' not in choice.env
    assert choice.cache_key == 'mmcv-2.1.0-torch2.14.1-cu130-sm80_90-py311'
    assert choice.cache_key != CPU_KEY


def test_cuda_torch_without_nvcc_builds_cpu_ops_with_gpus_hidden():
    choice = _select(cuda_home=None, nvcc_cuda=None)
    assert choice.kind == 'cpu' and choice.cache_key == CPU_KEY
    # mmcv's setup.py builds CUDA code whenever torch sees a GPU: the build must not see it
    assert choice.env['CUDA_VISIBLE_DEVICES'] == ''
    assert 'no CUDA toolkit' in choice.note


def test_nvcc_of_another_cuda_major_builds_cpu_ops():
    choice = _select(nvcc_cuda='12.4')
    assert choice.kind == 'cpu'
    assert '12.4' in choice.note and '13.0' in choice.note


def test_no_visible_gpu_needs_an_arch_list():
    assert _select(gpu_capabilities=[]).kind == 'cpu'
    choice = _select(gpu_capabilities=[], env={'TORCH_CUDA_ARCH_LIST': '8.0 9.0+PTX'})
    assert choice.kind == 'cuda'
    assert choice.env['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0+PTX'
    assert choice.cache_key == 'mmcv-2.1.0-torch2.14.1-cu130-sm80_90ptx-py311'


def test_user_arch_list_wins_over_the_visible_gpu():
    choice = _select(env={'TORCH_CUDA_ARCH_LIST': '8.6'})
    assert choice.env['TORCH_CUDA_ARCH_LIST'] == '8.6'
    assert 'from TORCH_CUDA_ARCH_LIST' in choice.note
    # an arch list that cannot be used is said, not dropped silently
    choice = _select(cuda_home=None, env={'TORCH_CUDA_ARCH_LIST': '8.6'})
    assert choice.kind == 'cpu' and 'TORCH_CUDA_ARCH_LIST not used' in choice.note


def test_forced_choice():
    assert _select(env={'MMRESFAM_MMCV_OPS': 'cpu'}).kind == 'cpu'
    assert _select(env={'MMRESFAM_MMCV_OPS': 'cuda'}).kind == 'cuda'
    with pytest.raises(ValueError, match='MMRESFAM_MMCV_OPS=cuda cannot be met: no CUDA'):
        _select(cuda_home=None, env={'MMRESFAM_MMCV_OPS': 'cuda'})


@pytest.mark.parametrize('env, match', [
    ({'MMRESFAM_MMCV_OPS': 'gpu'}, "MMRESFAM_MMCV_OPS='gpu': expected one of"),
    ({'TORCH_CUDA_ARCH_LIST': 'sm_90'}, 'TORCH_CUDA_ARCH_LIST='),
    ({'TORCH_CUDA_ARCH_LIST': ' '}, 'TORCH_CUDA_ARCH_LIST='),
])
def test_bad_overrides_are_refused(env, match):
    with pytest.raises(ValueError, match=match):
        _select(env=env)


def test_find_cuda_home(tmp_path):
    home = tmp_path / 'cuda'
    (home / 'bin').mkdir(parents=True)
    (home / 'include').mkdir()
    nvcc = home / 'bin' / 'nvcc'
    nvcc.write_text('#!/bin/sh\necho "Cuda compilation tools, release 12.8, V12.8.93"\n')
    nvcc.chmod(0o755)
    (home / 'include' / 'cuda_runtime.h').write_text('')
    assert tool.find_cuda_home({'CUDA_HOME': str(home)}) == str(home)
    assert tool.find_cuda_home({'CUDA_HOME': str(tmp_path)}) is None
    # nvcc on PATH through a link: its toolkit is the link's target's
    (tmp_path / 'bin').mkdir()
    os.symlink(nvcc, tmp_path / 'bin' / 'nvcc')
    found = tool.find_cuda_home({'PATH': str(tmp_path / 'bin')})
    assert found == str(home)
    assert tool.nvcc_release(str(nvcc)) == '12.8'


def test_shell_output_evaluates_in_bash():
    choice = _select(env={'TORCH_CUDA_ARCH_LIST': '8.0;9.0+PTX'})
    script = choice.shell() + 'printf "%s\\n" "$MMCV_BUILD" "$MMCV_CACHE_KEY" "${MMCV_BUILD_ENV[@]}"'
    out = subprocess.run(['bash', '-c', script], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ['cuda', choice.cache_key, 'MMCV_WITH_OPS=1', 'FORCE_CUDA=1',
                   'TORCH_CUDA_ARCH_LIST=8.0;9.0+PTX', 'CUDA_HOME=/opt/cuda-13.0']


def test_main_prints_assignments_or_one_error_line(capsys):
    assert tool.main(['--mmcv-version', '2.1.0'], env={}, probes=_probes(cuda_home=None)) == 0
    out = capsys.readouterr().out
    assert f'MMCV_CACHE_KEY={CPU_KEY}' in out.splitlines()
    assert tool.main(['--mmcv-version', '2.1.0'], env={'MMRESFAM_MMCV_OPS': 'x'},
                     probes=_probes()) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'MMRESFAM_MMCV_OPS' in err


def test_setup_env_uses_the_tool_for_the_cache_key():
    with open(os.path.join(ROOT, 'tools', 'setup_env.sh')) as f:
        script = f.read()
    assert 'tools/mmcv_build_env.py' in script
    assert 'WHEELDIR="$CACHE/$MMCV_CACHE_KEY"' in script
    assert 'env "${MMCV_BUILD_ENV[@]}"' in script
    assert 'FORCE_CUDA=0' not in script  # the choice is no longer hard-coded
