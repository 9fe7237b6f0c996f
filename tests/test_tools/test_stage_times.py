"""tools/analysis/stage_times.py: the stages are the whole network, their FLOPs add up, the
ratios are the ones printed (timings are printed, never asserted)."""
import json

import pytest
import torch
from mmengine.analysis import FlopAnalyzer

from analysis._lib.bench import parse_overrides
from analysis._lib.references import build_backbone
from analysis._lib.stages import stage_flops, stage_inputs, stages
from test_tools._helpers import load_tool


def _cli():
    return load_tool('tools/analysis/stage_times.py')


@pytest.mark.parametrize('name, overrides', [('resnest50', {}), ('resnetv1d50', {}),
                                             ('sknet50', {}),
                                             ('resnet18', dict(channels_last=True))])
def test_stages_chain_to_the_backbone_and_their_flops_add_up(name, overrides):
    torch.manual_seed(0)
    backbone = build_backbone(name, 'ours', out_indices=(3, ), **overrides).eval()
    x = torch.randn(1, 3, 64, 64)
    inputs = stage_inputs(backbone, x)
    assert [n for n, _ in stages(backbone)] == ['stem', 'layer1', 'layer2', 'layer3', 'layer4']
    with torch.no_grad():
        last = stages(backbone)[-1][1](inputs[-1])
        torch.testing.assert_close(last, backbone(x)[-1])
    if overrides.get('channels_last'):
        assert all(t.is_contiguous(memory_format=torch.channels_last) for t in inputs)
    flops = stage_flops(backbone, inputs)
    analyzer = FlopAnalyzer(backbone, (x, ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    assert all(f > 0 for f in flops)
    assert sum(flops) == pytest.approx(analyzer.total(), rel=1e-9)


def test_cli_tables_json_and_ratios(tmp_path, capsys):
    out = tmp_path / 'stages.json'
    rc = _cli().main(['resnest50', '--baseline', 'resnet18', '--batch', '2', '--size', '32',
                      '--warmup', '0', '--repeats', '1', '--iters', '1', '--json', str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert '| layer4 |' in text and 'minor page faults per step' in text
    data = json.loads(out.read_text())
    result, ratios = data['result'], data['ratios']
    assert data['machine']['threads'] >= 1 and data['machine']['cpu_capability']
    assert set(result) == {'resnest50', 'resnet18'} and set(ratios) == {'resnest50'}
    s50, r18 = result['resnest50'], result['resnet18']
    assert [s['stage'] for s in s50['stages']] == ['stem', 'layer1', 'layer2', 'layer3',
                                                   'layer4']
    assert s50['gflops'] == pytest.approx(sum(s['gflops'] for s in s50['stages']))
    assert s50['stage_sum_ms'] == pytest.approx(sum(s['ms'] for s in s50['stages']))
    assert ratios['resnest50']['flops'] == pytest.approx(r18['gflops'] / s50['gflops'])
    assert ratios['resnest50']['step'] == pytest.approx(r18['step_ms'] / s50['step_ms'])
    assert s50['faults_per_step'] >= 0 and s50['step_ms'] > 0
    assert f"| resnest50 | {ratios['resnest50']['flops']:.3f} |" in text


def test_errors_name_the_argument(capsys):
    assert _cli().main(['resnet51']) == 2
    assert "unknown model 'resnet51'" in capsys.readouterr().out
    assert _cli().main(['resnet18', '--cfg', 'channels_last']) == 2
    assert '--cfg expects KEY=VALUE' in capsys.readouterr().out
    with pytest.raises(ValueError, match='--cfg style: .* is not a Python literal'):
        parse_overrides(['style=pytorch'])
    assert parse_overrides(['channels_last=True', 'strides=(1, 2, 2, 2)']) == dict(
        channels_last=True, strides=(1, 2, 2, 2))
    with pytest.raises(TypeError, match='no forward_stem/res_layers'):
        stages(torch.nn.Conv2d(3, 8, 3))
