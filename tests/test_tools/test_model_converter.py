"""What every tools/model_converters/timm_*_to_mmresfam.py refuses (one ``error:`` line, exit
status 1): an output that is its input, an existing output without ``--force``, an input that
is not a checkpoint (random bytes, text, a truncated file). The scripts' ``main`` runs in this
process (with its own ``sys.argv``); one case runs as a real subprocess for the exit status."""
import os.path as osp
import sys
from types import SimpleNamespace

import pytest
import torch

from test_tools._helpers import load_tool
from conftest import run_tool

timm = pytest.importorskip('timm')

SCRIPTS = {
    'timm_resnet_to_mmresfam.py': 'resnet18',
    'timm_resnest_to_mmresfam.py': 'resnest14d',
    'timm_sknet_to_mmresfam.py': 'skresnet18',
    'timm_resnetv2_to_mmresfam.py': 'resnetv2_18',
}


def _script(name):
    return osp.join('tools', 'model_converters', name)


_MODULES = {}


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``run_cli(script, *args)``: the script's ``main()`` in this process -> returncode,
    stdout, stderr."""
    def run(script, *args):
        if script not in _MODULES:
            _MODULES[script] = load_tool(_script(script))
        monkeypatch.setattr(sys, 'argv', [script, *map(str, args)])
        capsys.readouterr()
        code = _MODULES[script].main()
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
    return run


def _one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope='module')
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp('timm')
    out = {}
    for script, model in SCRIPTS.items():
        out[script] = str(folder / f'{model}.pth')
        torch.save(timm.create_model(model, pretrained=False).state_dict(), out[script])
    return out


@pytest.mark.parametrize('script', list(SCRIPTS))
def test_output_equal_to_input_is_refused(script, sources, tmp_path, run_cli):
    src = tmp_path / 'same.pth'
    src.write_bytes(open(sources[script], 'rb').read())
    before = src.read_bytes()
    for flags in ([], ['--force']):
        line = _one_error_line(run_cli(script, str(src), str(src), *flags))
        assert 'is the input checkpoint' in line
        line = _one_error_line(run_cli(script, str(src),
                                        str(tmp_path / '.' / 'same.pth'), *flags))
        assert 'is the input checkpoint' in line
    assert src.read_bytes() == before


@pytest.mark.parametrize('script', list(SCRIPTS))
def test_existing_output_needs_force(script, sources, tmp_path, run_cli):
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'keep me')
    line = _one_error_line(run_cli(script, sources[script], str(dst)))
    assert f'dst {dst} exists: pass --force to overwrite it' in line
    assert dst.read_bytes() == b'keep me'
    proc = run_cli(script, sources[script], str(dst), '--force')
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    assert 'head.fc.weight' in state and any(k.startswith('backbone.layer4.') for k in state)
    assert not any(p.name.startswith('out.pth.tmp') for p in tmp_path.iterdir())


@pytest.mark.parametrize('content', [b'this is a text file, not a checkpoint\n',
                                     bytes(range(256)) * 8, b''], ids=['text', 'bytes', 'empty'])
@pytest.mark.parametrize('script', list(SCRIPTS))
def test_garbage_input_is_one_error_line(script, content, tmp_path, run_cli):
    src, dst = tmp_path / 'garbage.pth', tmp_path / 'out.pth'
    src.write_bytes(content)
    line = _one_error_line(run_cli(script, str(src), str(dst)))
    assert f'{src} is not a readable checkpoint' in line
    assert not dst.exists()


def test_truncated_and_non_tensor_inputs(sources, tmp_path, run_cli):
    script = 'timm_resnet_to_mmresfam.py'
    data = open(sources[script], 'rb').read()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    line = _one_error_line(run_cli(script, str(cut), str(tmp_path / 'a.pth')))
    assert f'{cut} is not a readable checkpoint' in line
    odd = tmp_path / 'odd.pth'
    torch.save({'epoch': 3, 'lr': 0.1}, odd)
    line = _one_error_line(run_cli(script, str(odd), str(tmp_path / 'b.pth')))
    assert 'not a checkpoint: expected a dict of tensors' in line and "'epoch'" in line
    missing = tmp_path / 'missing.pth'
    line = _one_error_line(run_cli(script, str(missing), str(tmp_path / 'c.pth')))
    assert f'src {missing} is not a file' in line


def test_exit_status_in_a_subprocess(tmp_path):
    src = tmp_path / 'notes.txt'
    src.write_text('hello\n')
    proc = run_tool(_script('timm_sknet_to_mmresfam.py'), str(src), str(tmp_path / 'o.pth'))
    line = _one_error_line(proc)
    assert line.startswith(f'error: {src} is not a readable checkpoint (not a complete '
                           'torch.save or safetensors file; ')
