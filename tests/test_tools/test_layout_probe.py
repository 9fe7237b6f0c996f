"""tools/analysis/layout_probe.py: the layouts it reports are the real ones (timings are printed,
never asserted)."""
from test_tools._helpers import load_tool


def _probe():
    return load_tool('tools/analysis/layout_probe.py')


def test_public_radix_sum_leaves_channels_last_and_ours_keeps_it(capsys):
    _probe().main(['--batch', '2', '--channels', '8', '--size', '6', '--iters', '1',
                   '--repeats', '1'])
    out = capsys.readouterr().out
    assert 'input (2, 16, 6, 6): NHWC (channels-last)' in out
    assert 'public radix sum output: NCHW (contiguous)' in out
    assert 'mmresfam attention_sum output: NHWC (channels-last)' in out
    assert 'ReLU backward (2, 16, 6, 6)' in out and 'BatchNorm forward+backward' in out
