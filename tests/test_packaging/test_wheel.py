"""The wheel: built through the PEP 517 backend, it carries configs/ and tools/ as
``mmresfam/.mim``; installed with ``--no-deps`` into a throwaway venv that reuses the project
environment's packages, it works from outside the repository: a one-epoch ``mim train``, a
model built from the installed configs, and (with the model index) ``mim search`` and a model
built by name. Offline: no build isolation, no index."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

CONFIG = 'sge-resnet18_1xb32_digits.py'


def _run(cmd, cwd, timeout=600):
    """Run ``cmd`` without the repository on the path (PYTHONPATH dropped)."""
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'MMRESFAM_DEBUG')}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f'{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}'
    return proc


def _tracked_copy(dst):
    """The repository's tracked files (what a clone has), copied to ``dst``."""
    files = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split('\0')
    for rel in filter(None, files):
        if osp.isfile(osp.join(ROOT, rel)):
            os.makedirs(osp.join(dst, osp.dirname(rel)), exist_ok=True)
            shutil.copy2(osp.join(ROOT, rel), osp.join(dst, rel))


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """``(venv python, site-packages, wheel path, source copy)`` of an installed wheel."""
    tmp = tmp_path_factory.mktemp('wheel')
    src, dist, venv = tmp / 'src', tmp / 'dist', tmp / 'venv'
    _tracked_copy(str(src))
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
          '--no-index', '-q', '-w', str(dist), str(src)], cwd=str(tmp))
    (wheel, ) = dist.glob('mmresfam-*.whl')
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], cwd=str(tmp))
    py = str(venv / 'bin' / 'python')
    venv_site = _run([py, '-c', 'import site; print(site.getsitepackages()[0])'],
                     cwd=str(tmp)).stdout.strip()
    # reuse the project environment's packages (every site-packages folder this interpreter
    # sees), after the venv's own
    with open(osp.join(venv_site, 'project_env.pth'), 'w') as f:
        f.write('\n'.join(p for p in sys.path if p.endswith('site-packages')) + '\n')
    _run([py, '-m', 'pip', 'install', '--no-deps', '--no-index', '--ignore-installed', '-q',
          str(wheel)], cwd=str(tmp))
    return py, venv_site, str(wheel), str(src)


def test_wheel_carries_configs_and_tools(installed):
    _, _, wheel, src = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in (f'configs/demo/{CONFIG}', 'configs/_base_/digits_classifier_recipe.py',
                'configs/resnest/resnest50_8xb32_in1k.py', 'tools/train.py', 'tools/_cli.py',
                'tools/dist_train.sh', 'tools/dataset_converters/prepare_digits.py'):
        assert f'mmresfam/.mim/{rel}' in names, rel
    if osp.isfile(osp.join(ROOT, 'model-index.yml')):
        assert 'mmresfam/.mim/model-index.yml' in names
    assert not any(n.startswith(('tests/', 'demo/', 'configs/', 'tools/')) for n in names)
    assert not any('__pycache__' in n for n in names)
    # the copies go into the archive, not into the checkout it was built from
    assert not osp.exists(osp.join(src, 'mmresfam', '.mim'))


def test_installed_package_builds_a_model_from_its_configs(installed, tmp_path):
    py, venv_site, _, _ = installed
    code = (
        'import os.path as osp, mmresfam, torch\n'
        'from mmpretrain import get_model\n'
        "cfg = osp.join(osp.dirname(mmresfam.__file__), '.mim', 'configs', 'resnest',"
        " 'resnest50_8xb32_in1k.py')\n"
        'model = get_model(cfg)\n'
        'print(mmresfam.__file__)\n'
        'print(type(model.backbone).__module__, type(model.backbone).__name__)\n')
    out = _run([py, '-c', code], cwd=str(tmp_path)).stdout.split('\n')
    out = out[next(i for i, line in enumerate(out) if line.endswith('__init__.py')):]  # past logs
    assert out[0].startswith(venv_site), out  # the wheel's package, not the checkout's
    assert 'mmresfam.models.backbones.resnest ResNeSt' in out, out  # (mmengine logs between)


def test_mim_train_one_epoch_from_another_folder(installed, tmp_path):
    py, venv_site, _, _ = installed
    mim_root = osp.join(venv_site, 'mmresfam', '.mim')
    _run([py, osp.join(mim_root, 'tools', 'dataset_converters', 'prepare_digits.py'),
          '--out', 'data/digits'], cwd=str(tmp_path))
    proc = _run([py, '-m', 'mim', 'train', 'mmresfam', CONFIG, '--work-dir', 'work',
                 '--cfg-options', 'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=128',
                 'val_dataloader.dataset.indices=64', 'train_dataloader.num_workers=0',
                 'val_dataloader.num_workers=0'], cwd=str(tmp_path))
    assert osp.join(mim_root, 'configs', 'demo', CONFIG) in proc.stdout
    assert osp.join(mim_root, 'tools', 'train.py') in proc.stdout
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
    assert 'accuracy/top1' in proc.stdout + proc.stderr


@pytest.mark.skipif(not osp.isfile(osp.join(ROOT, 'model-index.yml')),
                    reason='needs the model index (model-index.yml) of issue 12')
def test_mim_search_and_model_by_name(installed, tmp_path):
    import yaml
    py, _, _, _ = installed
    proc = _run([py, '-m', 'mim', 'search', 'mmresfam'], cwd=str(tmp_path))
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        first = yaml.safe_load(f)['Import'][0]
    with open(osp.join(ROOT, first)) as f:
        name = yaml.safe_load(f)['Models'][0]['Name']
    assert name in proc.stdout
    code = ('import mmresfam\nfrom mmpretrain import get_model\n'
            f'print(type(get_model({name!r}).backbone).__module__)\n')
    out = _run([py, '-c', code], cwd=str(tmp_path)).stdout
    assert out.strip().startswith('mmresfam.models.backbones'), out
