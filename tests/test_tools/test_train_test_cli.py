"""tools/train.py and tools/test.py: one-line errors for config mistakes, and a real run."""
import os.path as osp
import pickle

import pytest

from conftest import run_tool

DEMO = 'configs/demo/resnet18_1xb32_digits.py'
# A short run on the real digits data: 128 train images, 64 val images, 1 epoch.
SHORT = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=128',
         'val_dataloader.dataset.indices=64', 'train_dataloader.num_workers=0',
         'val_dataloader.num_workers=0']


def _one_line_error(proc, *needles):
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert err, 'no error message'
    last = err[-1]
    assert 'error' in last and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    for needle in needles:
        assert needle in last, last
    return last


def test_missing_config():
    proc = run_tool('tools/train.py', 'configs/does_not_exist.py')
    _one_line_error(proc, 'config file not found', 'does_not_exist.py')


def test_unknown_cfg_options_key_path():
    proc = run_tool('tools/train.py', DEMO, '--cfg-options', 'trian_cfg.max_epochs=1')
    _one_line_error(proc, "'trian_cfg' is not a key of the config")
    proc = run_tool('tools/train.py', DEMO, '--cfg-options', 'train_cfg.max_epoch=1')
    _one_line_error(proc, "'max_epoch' is not a key of train_cfg", 'max_epochs')
    proc = run_tool('tools/train.py', DEMO, '--cfg-options', 'train_dataloader.dataset.pipeline.9.scale=3')
    _one_line_error(proc, 'pipeline', 'list')


def test_runner_arguments_missing_from_the_config_are_accepted():
    """mmengine's Runner reads ``randomness`` even where the config (here MMDetection's
    runtime) has none: ``--cfg-options randomness.seed=0`` must reach it; a typo must not."""
    from test_tools._helpers import load_tool
    cli = load_tool('tools/_cli.py')
    config = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'mmdet',
                      'faster-rcnn_seresnet50_fpn_syncbn_1x_coco.py')
    assert 'randomness' not in cli.load_config(config)
    assert cli.load_config(config, {'randomness.seed': 0}).randomness.seed == 0
    with pytest.raises(cli.CLIError, match="'randomnes' is not a key of the config"):
        cli.load_config(config, {'randomnes.seed': 0})


def test_unregistered_type(tmp_path, digits_root):
    proc = run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                    'model.backbone.type=mmresfam.NoSuchNet', *SHORT)
    _one_line_error(proc, 'NoSuchNet')


def test_unknown_backbone_argument(tmp_path, digits_root):
    proc = run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                    'model.backbone.depthh=18', *SHORT)
    _one_line_error(proc, 'depthh')


def test_bad_value_names_allowed_values(tmp_path, digits_root):
    proc = run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                    'model.backbone.depth=19', *SHORT)
    _one_line_error(proc, 'depth=19', '[18, 34, 50, 101, 152]')


def test_test_tool_missing_checkpoint(tmp_path):
    proc = run_tool('tools/test.py', DEMO, str(tmp_path / 'nope.pth'))
    _one_line_error(proc, 'checkpoint file not found')


def test_train_then_test_on_digits(tmp_path, digits_root):
    work = tmp_path / 'run'
    proc = run_tool('tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options', *SHORT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    assert (work / 'curves.png').stat().st_size > 1000
    assert 'Epoch(val) [1]' in proc.stdout + proc.stderr

    out = tmp_path / 'preds.pkl'
    proc = run_tool('tools/test.py', DEMO, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                    '--out', str(out), '--cfg-options', 'test_dataloader.dataset.indices=64',
                    'test_dataloader.num_workers=0')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'accuracy/top1' in proc.stdout
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 64 and 'pred_label' in preds[0]


def test_resume_continues_from_saved_epoch(tmp_path, digits_root):
    work = tmp_path / 'run'
    common = ['--work-dir', str(work), '--cfg-options', *SHORT]
    assert run_tool('tools/train.py', DEMO, *common).returncode == 0
    args = [a if a != 'train_cfg.max_epochs=1' else 'train_cfg.max_epochs=2' for a in common]
    proc = run_tool('tools/train.py', DEMO, '--resume', *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1' in log.lower() or 'Epoch(train) [2]' in log
    assert 'Epoch(train) [1]' not in log
    assert (work / 'epoch_2.pth').is_file()


def test_headline_resnest50_config_on_digits(tmp_path, digits_root):
    """The README's headline config trains on the digits folder through --cfg-options only,
    and tools/test.py evaluates the checkpoint it writes."""
    config = 'configs/resnest50_8xb32_in1k.py'
    classes = '[0,1,2,3,4,5,6,7,8,9]'
    data = []
    for loader, n in (('train_dataloader', 16), ('val_dataloader', 8)):
        data += [f'{loader}.dataset.data_root=data/digits', f'{loader}.dataset.indices={n}',
                 f'{loader}.dataset.metainfo.classes={classes}', f'{loader}.batch_size=8',
                 f'{loader}.num_workers=0']
    work = tmp_path / 'resnest50'
    proc = run_tool('tools/train.py', config, '--work-dir', str(work), '--cfg-options',
                    'train_cfg.max_epochs=1', *data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'mmresfam.ResNeSt' in log or 'ResNeSt' in log
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    test_data = [d.replace('val_dataloader', 'test_dataloader') for d in data
                 if d.startswith('val_dataloader')]
    proc = run_tool('tools/test.py', config, str(ckpt), '--work-dir', str(tmp_path / 't'),
                    '--cfg-options', *test_data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'accuracy/top1' in proc.stdout


def test_build_error_is_one_line_exit_1(tmp_path):
    proc = run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                    'model.backbone.depth=19')
    assert proc.returncode == 1
    _one_line_error(proc, 'train.py: error: KeyError', 'depth=19')


# A hook that fails in the middle of a run: the error is the code's, not the user's input.
FAILING_HOOK = '''
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class FailingHook(Hook):

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        raise ValueError('raised inside training at iteration %d' % runner.iter)

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        raise ValueError('raised inside testing')
'''


def _run_with_failing_hook(tmp_path, *args):
    """Run a tool on the demo config plus a hook that raises ValueError (a type that a
    build would report in one line) once the run has started."""
    import os
    import subprocess
    import sys

    from conftest import ROOT
    (tmp_path / 'failing_hook.py').write_text(FAILING_HOOK)
    config = tmp_path / 'demo_failing.py'
    config.write_text(f"_base_ = [{osp.join(ROOT, DEMO)!r}]\n"
                      "custom_imports = dict(imports=['failing_hook'], "
                      "allow_failed_imports=False)\n"
                      "custom_hooks = [dict(type='FailingHook')]\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, str(tmp_path)]))
    env.pop('MMRESFAM_DEBUG', None)
    return subprocess.run([sys.executable, args[0], str(config), *args[1:]], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)


def test_error_while_training_shows_the_traceback(tmp_path, digits_root):
    proc = _run_with_failing_hook(tmp_path, 'tools/train.py', '--work-dir',
                                  str(tmp_path / 'work'), '--cfg-options', *SHORT)
    assert proc.returncode == 1
    assert 'Traceback (most recent call last)' in proc.stderr
    assert 'in before_train_iter' in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        'ValueError: raised inside training at iteration 0')
    assert 'MMRESFAM_DEBUG' not in proc.stderr


def test_error_while_testing_shows_the_traceback(tmp_path, digits_root):
    import torch

    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules

    import mmresfam  # noqa: F401
    register_all_modules(init_default_scope=False)
    ckpt = tmp_path / 'random.pth'
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', '..', DEMO))
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, str(ckpt))
    proc = _run_with_failing_hook(
        tmp_path, 'tools/test.py', str(ckpt), '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', 'test_dataloader.dataset.indices=8', 'test_dataloader.num_workers=0')
    assert proc.returncode == 1
    assert 'Traceback (most recent call last)' in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == 'ValueError: raised inside testing'
