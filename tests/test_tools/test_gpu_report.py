"""tools/analysis/gpu_report.py: the whole path on CPU (dry run), the budget, the targets."""
import json
import subprocess
import sys

import pytest

from test_tools._helpers import ROOT, load_tool

report = load_tool('tools/analysis/gpu_report.py')
TINY = ['--device', 'cpu', '--batch', '2', '--size', '64', '--models', 'resnet18',
        '--warmup', '1', '--iters', '1', '--repeats', '2']


def test_dry_run_writes_json_and_markdown(tmp_path):
    out = tmp_path / 'report'
    # a budget far above the run's need: the stop is tested below
    assert report.main(TINY + ['--phases', 'eager', 'eager-cl', '--budget', '3000',
                               '--out-dir', str(out)]) == 0
    rep = json.loads((out / 'gpu_report.json').read_text())
    assert list(rep['phases']) == ['eager', 'eager-cl']
    assert rep['phases']['eager-cl']['flags'] == ['--channels-last']
    assert rep['options']['device'] == 'cpu' and rep['pip_line'] == report.PIP_LINE
    for name, ph in rep['phases'].items():
        assert ph['complete'] and ph['returncode'] == 0, (name, ph['log_tail'])
        assert '--amp' in ph['command'].split()
        rows = {r['impl']: r for r in ph['result']['rows']}
        assert set(rows) == {'ours', 'mmpretrain', 'timm'}
        assert all(r['train_img_s'] > 0 and r['infer_img_s'] > 0 for r in rows.values())
        assert all(len(r['train_all']) == 2 for r in rows.values())
        # agreement-checked: the references run with our weights
        assert max(r['rel_error'] for r in rows.values()) <= ph['result']['options']['tol']
    md = (out / 'gpu_report.md').read_text()
    assert md == report.markdown(rep)
    assert '| resnet18 | ours |' in md and '| resnet18/ours / resnet18/timm |' in md
    assert '- eager-cl: `--channels-last`' in md and 'complete' in md
    assert rep['targets'] == []  # the targets concern ResNeSt-50 and ResNet-50


def test_a_phase_past_its_budget_is_stopped_and_said(tmp_path):
    out = tmp_path / 'report'
    assert report.main(TINY + ['--phases', 'compile', '--budget', '1',
                               '--out-dir', str(out)]) == 1
    ph = json.loads((out / 'gpu_report.json').read_text())['phases']['compile']
    assert not ph['complete'] and ph['stopped_after_s'] == 1.0 and ph['returncode'] is None
    assert ph['result'] is None and ph['wall_s'] < 30
    assert 'no result' in (out / 'gpu_report.md').read_text()


def test_targets_from_a_phase_result():
    def q(num, den, train):
        return dict(num=num, den=den, train=train, infer=None)
    phase = dict(result=dict(ratios=[
        q('resnet50/ours', 'resnet50/mmpretrain', 1.0),
        q('resnest50/ours', 'resnest50/mmpretrain', 1.4),
        q('resnest50/ours', 'resnet50/ours', 0.70),
    ]))
    got = {t['target']: (t['value'], t['met']) for t in
           report.check_targets(phase, ['resnet50', 'resnest50', 'sknet50'])}
    assert got == {
        'resnest50/ours / resnet50/ours training': (0.70, False),
        'resnest50/ours / resnest50/mmpretrain training': (1.4, True),
    }
    # not measured: the value is missing, not invented; targets of absent networks are left out
    empty = report.check_targets(None, ['resnet50', 'resnest50'])
    assert [(t['value'], t['met']) for t in empty] == [(None, None), (None, None)]
    assert report.check_targets(phase, ['resnet18']) == []


def test_cuda_without_a_gpu_is_one_line(capsys, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert report.main(['--out-dir', '/nonexistent/never-written']) == 2
    assert capsys.readouterr().out.startswith('error: --device cuda: torch sees no GPU')


@pytest.mark.parametrize('argv, match', [(['--batch', '0'], '--batch must be >= 1'),
                                         (['--budget', '0'], '--budget must be > 0')])
def test_bad_arguments(argv, match, capsys):
    with pytest.raises(SystemExit):
        report.parse_args(argv)
    assert match in capsys.readouterr().err


def test_backbones_need_no_compiled_mmcv_ops():
    """What the report runs works with mmcv-lite: the benchmark of the four networks, with
    mmcv's compiled ``mmcv._ext`` made unimportable, builds, agrees and runs."""
    code = """
import runpy, sys
class NoExt:
    def find_spec(self, name, path=None, target=None):
        if name == 'mmcv._ext':
            raise ImportError('mmcv without compiled ops')
sys.meta_path.insert(0, NoExt())
sys.argv = ['benchmark.py', *sys.argv[1:]]
try:
    runpy.run_path('tools/analysis/benchmark.py', run_name='__main__')
except SystemExit as e:
    assert not e.code, e.code
assert 'mmcv._ext' not in sys.modules
print('ok: no mmcv._ext')
"""
    out = subprocess.run([sys.executable, '-c', code, *report.MODELS, '--batch', '1',
                          '--size', '32', '--warmup', '0', '--iters', '1', '--repeats', '1',
                          '--modes', 'infer'],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert out.stdout.strip().endswith('ok: no mmcv._ext')
    for name in report.MODELS:
        assert f'{name}/ours' in out.stdout
