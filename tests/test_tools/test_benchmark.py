"""tools/analysis/benchmark.py: weights are shared, agreement is checked, results add up."""
import json

import pytest
import torch

from analysis._lib.bench import (AgreementError, Options, check_agreement,
                                 format_table, make_candidates, relative_error, run)
from analysis._lib.references import (REFERENCES, build_candidate, copy_by_order,
                                      copy_weights)
from test_tools._helpers import load_tool

TINY = dict(size=32, batch=2, warmup=1, iters=1, repeats=2, modes=('infer', 'train'))


def _cli():
    return load_tool('tools/analysis/benchmark.py')


def test_candidates_share_weights_and_agree():
    opts = Options(**TINY)
    cands = make_candidates(['resnet18'], ['ours', 'mmpretrain', 'timm'], opts)
    assert [c.impl for c in cands] == ['ours', 'mmpretrain', 'timm']
    errors = check_agreement(cands, opts)
    assert max(errors.values()) <= 1e-5
    # the check is not blind: every residual branch matters (norms are randomised, not zero)
    last_bn = cands[0].module.model.layer4[-1].bn2
    assert last_bn.weight.abs().min() > 0.4


def test_disagreeing_candidates_are_refused():
    opts = Options(**TINY)
    cands = make_candidates(['resnet18'], ['ours', 'timm'], opts)
    with torch.no_grad():
        cands[1].module.model.layer3[0].conv1.weight.mul_(1.01)  # a slightly different network
    with pytest.raises(AgreementError, match=r'resnet18/timm vs resnet18/ours'):
        check_agreement(cands, opts)
    # run() refuses before timing anything
    with pytest.raises(AgreementError):
        run(['resnet18'], ['ours', 'mmpretrain'],
            Options(**TINY, overrides=dict(strides=(1, 1, 2, 2))), log=lambda s: None)


def test_cli_refuses_different_networks(capsys):
    rc = _cli().main(['resnet18', '--impls', 'ours', 'mmpretrain', '--size', '32', '--batch',
                      '2', '--repeats', '1', '--iters', '1', '--modes', 'infer', '--cfg',
                      'strides=(1,1,2,2)'])
    assert rc == 3
    assert 'REFUSED' in capsys.readouterr().out


def test_relative_error_and_copy_by_order():
    a = torch.ones(2, 3)
    assert relative_error(a, a) == 0
    assert relative_error(a * 1.1, a) == pytest.approx(0.1, rel=1e-5)
    assert relative_error(a, torch.ones(3, 2)) == float('inf')
    ours = build_candidate('resnet18', 'ours')
    other = build_candidate('resnet50', 'ours')
    with pytest.raises(ValueError, match='cannot pair weights by order'):
        copy_by_order(ours, other)
    # renamed-but-same layout is paired by order
    r18 = build_candidate('resnet18', 'ours')
    ref = torch.nn.Sequential(*[m for m in r18.model.children()])
    assert copy_by_order(ours, ref) > 0
    assert copy_weights('resnet18', ours, build_candidate('resnet18', 'timm'),
                        'timm') == 'same keys'


def test_run_end_to_end_with_baseline_and_json(tmp_path):
    out = tmp_path / 'r.json'
    rc = _cli().main(['resnet18', '--impls', 'ours', 'mmpretrain', '--size', '32', '--batch',
                      '2', '--repeats', '2', '--iters', '1', '--warmup', '0', '--modes',
                      'infer', 'train', '--with-cp', '--json', str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    keys = {f"{r['model']}/{r['impl']}" for r in res['rows']}
    assert keys == {'resnet18/ours', 'resnet18/mmpretrain', 'resnet18/ours_cp'}
    for r in res['rows']:
        assert len(r['infer_all']) == 2 and all(v > 0 for v in r['train_all'])
    dens = {q['den'] for q in res['ratios']}
    assert dens == {'resnet18/mmpretrain', 'resnet18/ours'}
    table = format_table(res)
    assert 'resnet18/ours / resnet18/mmpretrain' in table


def test_saved_activation_memory_drops_with_cp():
    from analysis._lib.bench import prepare, saved_activation_mib
    opts = Options(**TINY)
    cands = make_candidates(['resnet18'], ['ours', 'ours_cp'], opts)
    for c in cands:
        prepare(c, opts)
    plain, cp = (saved_activation_mib(c, opts) for c in cands)
    assert cp < 0.5 * plain


def test_unknown_model_is_a_key_error():
    with pytest.raises(KeyError, match='model must be one of'):
        make_candidates(['resnet7'], ['ours'], Options(**TINY))
    assert 'resnest50' in REFERENCES


def test_machine_info_records_the_allocator_environment(monkeypatch):
    from analysis._lib.bench import machine_info
    monkeypatch.setenv('MALLOC_TRIM_THRESHOLD_', '68719476736')
    monkeypatch.setenv('GLIBC_TUNABLES', 'glibc.malloc.hugetlb=1')
    monkeypatch.setenv('MMRESFAM_UNRELATED', '1')
    info = machine_info(Options())
    env = info['allocator_env']
    assert info['cpu_capability'] == torch.backends.cpu.get_cpu_capability()
    assert env['MALLOC_TRIM_THRESHOLD_'] == '68719476736'
    assert env['GLIBC_TUNABLES'] == 'glibc.malloc.hugetlb=1'
    assert 'MMRESFAM_UNRELATED' not in env


def test_cli_rejects_a_malformed_override_and_an_unknown_model(capsys):
    assert _cli().main(['resnet18', '--cfg', 'style=pytorch']) == 2
    assert '--cfg style' in capsys.readouterr().out
    assert _cli().main(['resnet18', '--baseline', 'resnet51']) == 2
    assert "error: unknown model 'resnet51'; choose from" in capsys.readouterr().out


def test_ratio_spread_and_busy_warning(monkeypatch):
    from analysis._lib import bench
    assert bench.paired_ratios([2.0, 3.0, 4.0], [2.0, 2.0, 2.0]) == dict(
        median=1.5, min=1.0, max=2.0, ci=None)  # 3 repeats: no 95 % interval
    # other processes: 30 machine CPU s - 10 s of ours over 10 s = 2 CPUs busy
    samples = iter([(0.0, 0.0, 0.0), (10.0, 30.0, 10.0)])
    monkeypatch.setattr(bench, 'cpu_times', lambda: next(samples))
    res = run(['resnet18'], ['ours', 'mmpretrain'], Options(**TINY), log=lambda s: None)
    assert res['machine']['other_cpus'] == pytest.approx(2.0)
    table = format_table(res)
    assert 'WARNING: the machine was busy: other processes used 2.00 CPUs' in table
    q = res['ratios'][0]
    assert q['train_range'][0] <= q['train'] <= q['train_range'][1]
    assert f"{q['train']:.3f} [" in table
    quiet = dict(res['machine'], other_cpus=0.05)
    assert bench.busy_warning(quiet) is None


@pytest.mark.parametrize('n,ranks', [(5, None), (6, (1, 6)), (7, (1, 7)), (8, (1, 8)),
                                     (9, (2, 8)), (10, (2, 9)), (15, (4, 12)), (20, (6, 15))])
def test_median_ci_is_the_sign_test_interval(n, ranks):
    """The published distribution-free 95 % intervals of the median (order statistics)."""
    from analysis._lib import bench
    xs = [float(10 * i) for i in range(n, 0, -1)]  # unsorted input, x_(k) = 10 k
    ci = bench.median_ci(xs)
    assert ci == (None if ranks is None else [10.0 * ranks[0], 10.0 * ranks[1]])


def test_median_ci_coverage_and_table():
    import math
    from analysis._lib import bench
    for n in range(6, 40):
        lo, _ = bench.median_ci(list(range(1, n + 1)))  # x_(k) = k
        k = int(lo)

        def coverage(k):
            return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n
        assert coverage(k) >= 0.95 > coverage(k + 1), n  # the narrowest with 95 %
    q = bench.paired_ratios([7.0, 8.0, 7.5, 7.2, 7.1, 7.4, 9.0], [10.0] * 7)
    assert q['ci'] == [q['min'], q['max']] and q['median'] == pytest.approx(0.74)
    fields = bench._ratio_fields(dict(infer=[], train=[7.0, 8.0, 7.5, 7.2, 7.1, 7.4, 9.0]),
                                 dict(infer=[], train=[10.0] * 7))
    assert fields['infer'] is None and fields['infer_ci'] is None
    assert fields['train_ci'] == pytest.approx([0.70, 0.90])
    text = bench._fmt_ratio(fields, 'train')
    assert text == '0.740 [0.700, 0.900] ci 0.700-0.900'
    assert bench._fmt_ratio(dict(train=0.5, train_range=[0.4, 0.6], train_ci=None),
                            'train') == '0.500 [0.400, 0.600]'
