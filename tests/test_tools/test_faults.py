"""Hostile and mistaken inputs to tools/train.py and tools/test.py: each ends in a correct
result or in one error line with a non-zero exit code."""
import os.path as osp

import pytest
import torch

from conftest import run_tool
from test_tools.test_train_test_cli import _one_line_error

DEMO = 'configs/demo/resnet18_1xb32_digits.py'
SHORT = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=64',
         'val_dataloader.dataset.indices=32', 'train_dataloader.num_workers=0',
         'val_dataloader.num_workers=0']
TEST = ['test_dataloader.dataset.indices=32', 'test_dataloader.num_workers=0']


def _demo_model(depth=18):
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules

    import mmresfam  # noqa: F401
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', '..', DEMO))
    cfg.model.backbone.depth = depth
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def trained(tmp_path_factory, digits_root):
    """A real 1-epoch tools/train.py run on 64 digits."""
    work = tmp_path_factory.mktemp('trained')
    proc = run_tool('tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options', *SHORT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


# ---------------------------------------------------------------- resume
def test_resume_in_a_work_dir_without_checkpoint(tmp_path, digits_root):
    proc = run_tool('tools/train.py', DEMO, '--resume', '--work-dir', str(tmp_path / 'empty'),
                    '--cfg-options', *SHORT)
    _one_line_error(proc, '--resume: no checkpoint to resume', 'empty')


def test_resume_named_checkpoint_missing(tmp_path):
    proc = run_tool('tools/train.py', DEMO, '--resume', str(tmp_path / 'epoch_9.pth'),
                    '--work-dir', str(tmp_path))
    _one_line_error(proc, 'file not found', 'epoch_9.pth')


def test_resume_from_a_checkpoint_without_optimizer_state(trained, tmp_path):
    best = [p for p in trained.iterdir() if p.name.startswith('best_')]
    assert best, list(trained.iterdir())
    proc = run_tool('tools/train.py', DEMO, '--resume', str(best[0]), '--work-dir',
                    str(tmp_path), '--cfg-options', *SHORT)
    _one_line_error(proc, 'has no optimizer/param_schedulers state', 'load_from=')


def test_truncated_checkpoint(trained, tmp_path):
    cut = tmp_path / 'cut.pth'
    data = (trained / 'epoch_1.pth').read_bytes()
    cut.write_bytes(data[:len(data) // 3])
    proc = run_tool('tools/test.py', DEMO, str(cut), '--work-dir', str(tmp_path))
    _one_line_error(proc, 'cannot read checkpoint', 'cut.pth')
    proc = run_tool('tools/train.py', DEMO, '--resume', str(cut), '--work-dir', str(tmp_path))
    _one_line_error(proc, 'cannot read --resume checkpoint', 'cut.pth')


def test_train_checkpoint_loads_with_torch_load_defaults(trained):
    """After ``import mmresfam``, plain ``torch.load`` (weights_only=True) reads what
    tools/train.py wrote, in a fresh process without TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD."""
    import os
    import subprocess
    import sys
    from conftest import ROOT
    env = {k: v for k, v in os.environ.items() if not k.startswith('TORCH_FORCE')}
    env['PYTHONPATH'] = ROOT
    code = ('import sys, torch, mmresfam; c = torch.load(sys.argv[1]); '
            'print(sorted(c), len(c["state_dict"]), c["meta"]["epoch"])')
    proc = subprocess.run([sys.executable, '-c', code, str(trained / 'epoch_1.pth')],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "'message_hub'" in proc.stdout and "'optimizer'" in proc.stdout
    assert proc.stdout.split()[-1] == '1'


# ---------------------------------------------------------------- test.py
def test_checkpoint_of_another_architecture_is_refused(tmp_path, digits_root):
    ckpt = tmp_path / 'r34.pth'
    torch.save({'state_dict': _demo_model(34).state_dict(), 'meta': {}}, ckpt)
    proc = run_tool('tools/test.py', DEMO, str(ckpt), '--work-dir', str(tmp_path),
                    '--cfg-options', *TEST)
    _one_line_error(proc, 'does not fit the model', 'missing', 'unexpected', 'mis-shaped')


def test_non_finite_weights_warn_loudly(tmp_path, digits_root):
    state = _demo_model().state_dict()
    state['head.fc.weight'][0, 0] = float('nan')
    ckpt = tmp_path / 'nan.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    proc = run_tool('tools/test.py', DEMO, str(ckpt), '--work-dir', str(tmp_path),
                    '--cfg-options', *TEST)
    assert 'test.py: WARNING' in proc.stderr and 'NaN/Inf in 1 tensors' in proc.stderr, proc.stderr
    assert 'head.fc.weight' in proc.stderr


# ---------------------------------------------------------------- bad input
def test_config_with_a_syntax_error(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text("_base_ = 'x'\nmodel = dict(type='A',\n")
    proc = run_tool('tools/train.py', str(bad))
    _one_line_error(proc, 'bad.py', 'line')


def test_cfg_options_key_without_value():
    proc = run_tool('tools/train.py', DEMO, '--cfg-options', 'train_cfg.max_epochs')
    _one_line_error(proc, "'train_cfg.max_epochs'", 'KEY=VALUE')


def test_cfg_options_wrong_value_type_names_the_key():
    proc = run_tool('tools/train.py', DEMO, '--cfg-options', 'train_cfg.max_epochs=abc')
    _one_line_error(proc, 'train_cfg.max_epochs', 'abc')


def test_launcher_pytorch_without_torchrun():
    proc = run_tool('tools/train.py', DEMO, '--launcher', 'pytorch')
    _one_line_error(proc, '--launcher pytorch', 'torchrun')


def test_work_dir_that_is_a_file(tmp_path):
    f = tmp_path / 'file'
    f.write_text('')
    proc = run_tool('tools/train.py', DEMO, '--work-dir', str(f))
    _one_line_error(proc, 'is a file')


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU message')
def test_amp_on_a_cpu():
    proc = run_tool('tools/train.py', DEMO, '--amp')
    _one_line_error(proc, '--amp', 'CUDA')


@pytest.mark.parametrize('key', [
    'optim_wrapper.clip_grad.max_norm=1.0', 'train_cfg.val_begin=2',
    'train_dataloader.drop_last=True', 'randomness.diff_rank_seed=True',
    'env_cfg.dist_cfg.timeout=60'])
def test_cfg_options_accepts_what_mmengine_accepts(key):
    from test_tools._helpers import load_tool
    cli = load_tool('tools/_cli.py')
    path, value = key.split('=')
    cfg = cli.load_config(osp.join(osp.dirname(__file__), '..', '..', DEMO),
                          {path: eval(value)})
    node = cfg
    for part in path.split('.'):
        node = node[part]
    assert node == eval(value)


def test_cfg_options_still_refuses_typos():
    from test_tools._helpers import load_tool
    cli = load_tool('tools/_cli.py')
    demo = osp.join(osp.dirname(__file__), '..', '..', DEMO)
    for key, where in (('train_cfg.val_begn', 'train_cfg'),
                       ('train_dataloader.drop_lats', 'train_dataloader'),
                       ('randomness.sed', 'randomness')):
        with pytest.raises(cli.CLIError, match=f"'{key.split('.')[-1]}' is not a key of {where}"):
            cli.load_config(demo, {key: 1})


# ---------------------------------------------------------------- export and visualisation
def _tool_main(relpath, argv, capsys):
    """Exit status and output of a tool's main(): a user's input mistake ends in
    tools/_cli.friendly_errors' one line and SystemExit(1)."""
    from test_tools._helpers import load_tool
    try:
        code = load_tool(relpath).main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out + out.err


def test_onnx_export_refuses_bad_input(tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    demo = osp.join(osp.dirname(__file__), '..', '..', DEMO)
    tool = 'tools/deployment/pytorch2onnx.py'
    state = _demo_model().state_dict()
    state['backbone.layer4.1.conv2.weight'][0, 0, 0, 0] = float('nan')
    nan = tmp_path / 'nan.pth'
    torch.save({'state_dict': state}, nan)
    code, out = _tool_main(tool, [demo, str(nan), '--shape', '32', '--out',
                                  str(tmp_path / 'm.onnx')], capsys)
    assert code == 1 and 'FAILED' in out and 'NaN/Inf' in out, out
    code, out = _tool_main(tool, [demo, 'none', '--shape', '0'], capsys)
    assert code == 1 and '--shape 0' in out, out
    code, out = _tool_main(tool, [demo, 'none', '--out', str(tmp_path / 'no' / 'm.onnx')],
                           capsys)
    assert code == 1 and 'does not exist' in out, out
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(nan.read_bytes()[:1000])
    code, out = _tool_main(tool, [demo, str(cut), '--shape', '32'], capsys)
    assert code == 1 and 'cannot read checkpoint' in out, out


def test_vis_attention_refuses_bad_input(tmp_path, capsys):
    from mmengine.config import Config
    from PIL import Image
    config = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'demo',
                      'cbam-resnet18_1xb32_digits.py')
    tool = 'tools/visualization/vis_attention.py'
    image = tmp_path / 'x.png'
    Image.new('RGB', (32, 32)).save(image)
    other = tmp_path / 'r18.pth'
    torch.save({'state_dict': _demo_model().state_dict()}, other)  # no CBAM weights
    code, out = _tool_main(tool, [config, str(other), str(image), '--out-dir',
                                  str(tmp_path / 'v')], capsys)
    assert code == 1 and 'does not fit' in out and 'missing' in out, out
    text = tmp_path / 'notes.png'
    text.write_text('not an image')
    code, out = _tool_main(tool, [config, 'none', str(text)], capsys)
    assert code == 1 and 'not an image' in out, out
    # digits models are drawn at their trained size
    from test_tools._helpers import load_tool
    load_tool(tool)  # puts the repository on sys.path
    from analysis._lib.zoo import test_input_size
    assert test_input_size(Config.fromfile(config)) == 32


def test_cfg_options_dict_value_is_a_dict():
    import argparse

    from test_tools._helpers import load_tool
    cli = load_tool('tools/_cli.py')
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=cli.dict_action())
    args = parser.parse_args(['--cfg-options', "env_cfg.dist_cfg=dict(backend='gloo', timeout=60)"])
    assert args.cfg_options == {'env_cfg.dist_cfg': {'backend': 'gloo', 'timeout': 60}}
    demo = osp.join(osp.dirname(__file__), '..', '..', DEMO)
    cfg = cli.load_config(demo, args.cfg_options)
    assert cfg.env_cfg.dist_cfg.timeout == 60 and cfg.env_cfg.mp_cfg  # merged, not replaced
    with pytest.raises(cli.CLIError, match="'timeot' is not a key of env_cfg.dist_cfg"):
        cli.load_config(demo, {'env_cfg.dist_cfg': {'timeot': 60}})
