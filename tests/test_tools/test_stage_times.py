"""tools/analysis/stage_times.py: the stages are the whole network, their FLOPs add up, the
ratios are the ones printed (timings are printed, never asserted)."""
import json

import pytest
import torch
from mmengine.analysis import FlopAnalyzer

from analysis._lib.bench import Options, parse_overrides
from analysis._lib.references import build_backbone
from analysis._lib.stages import OpTimes, run, stage_flops, stage_inputs, stages
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


def test_op_times_group_convolutions_and_count_their_macs():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1, groups=2, bias=False),
                              torch.nn.ReLU(), torch.nn.Conv2d(16, 4, 1))
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    timer = OpTimes()
    with timer:
        net(x).sum().backward()
    grouped_macs = 2 * 16 * 6 * 6 * (8 // 2 * 3 * 3)  # outputs x MACs per output
    pointwise_macs = 2 * 4 * 6 * 6 * 16
    assert timer.macs['conv 3x3 grouped forward'] == grouped_macs
    assert timer.macs['conv 3x3 grouped backward'] == grouped_macs
    assert timer.macs['conv 1x1 forward'] == timer.macs['conv 1x1 backward'] == pointwise_macs
    assert timer.calls['conv 1x1 forward'] == 1 and timer.calls['threshold_backward'] == 1
    assert timer.macs['relu'] == 0 and timer.ms['relu'] >= 0
    assert x.grad is not None and x.grad.shape == x.shape  # the hook changes nothing
    up = torch.nn.ConvTranspose2d(8, 6, 2, stride=2)
    timer = OpTimes()
    with timer:
        up(x).sum().backward()
    # a transposed conv: every input element takes out_channels x 2 x 2 MACs
    assert timer.macs['conv 2x2 transposed forward'] == x.numel() * 6 * 2 * 2
    assert timer.macs['conv 2x2 transposed backward'] == x.numel() * 6 * 2 * 2
    with pytest.raises(ValueError, match="ops: per-op times are measured on the CPU only, "
                                         "got device 'cuda'"):
        run(['resnet18'], Options(device='cuda'), ops=True)


def test_cli_ops_table_and_json(tmp_path, capsys):
    out = tmp_path / 'ops.json'
    assert _cli().main(['resnest50', 'resnet18', '--batch', '2', '--size', '32', '--warmup',
                        '0', '--repeats', '2', '--iters', '1', '--ops', '--json',
                        str(out)]) == 0
    text = capsys.readouterr().out
    result = json.loads(out.read_text())['result']
    rows = {r['op']: r for r in result['resnest50']['ops']}
    assert 'conv 3x3 grouped backward' in rows and 'conv 3x3 grouped forward' not in {
        r['op'] for r in result['resnet18']['ops']}
    assert rows['conv 3x3 grouped forward']['gmacs'] > 0 and rows['lerp']['gmacs'] == 0
    *op_rows, outside = result['resnest50']['ops']
    assert outside['op'] == 'outside ATen ops' and outside['ms'] > 0
    ms = [r['ms'] for r in op_rows]
    assert ms == sorted(ms, reverse=True)
    conv = sum(r['ms'] for r in op_rows if r['op'].startswith('conv '))
    assert f'| all convolutions | {conv:.1f} |' in text
    assert f"| all other ops | {sum(ms) - conv:.1f} |" in text
    assert f"| the step under the timer | {sum(ms) + outside['ms']:.1f} |" in text
    assert '| op | resnest50 | resnet18 |' in text
