"""Tests of ``mmresfam.scSE`` (Roy et al., MICCAI 2018)."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_plugin_layer

from mmresfam.models.attentions import scSE
from mmresfam.registry import MODELS
from test_models._helpers import assert_compiles_and_records, assert_grads_reach_every_parameter


def _reference(m, x):
    """cSE and sSE written out with the module's weights; outputs added (or max)."""
    c1, c2 = m.cse.conv1.conv, m.cse.conv2.conv
    z = F.relu(F.linear(x.mean((2, 3)), c1.weight.flatten(1), c1.bias))
    cse = torch.sigmoid(F.linear(z, c2.weight.flatten(1), c2.bias))[..., None, None]
    s = m.sse.conv
    sse = torch.sigmoid(torch.einsum('oc,bchw->bohw', s.weight.flatten(1), x)
                        + s.bias[None, :, None, None])
    if m.fusion == 'max':
        return torch.maximum(x * cse, x * sse)
    return x * cse + x * sse


@pytest.mark.parametrize('kwargs', [dict(), dict(reduction=2), dict(fusion='max'),
                                    dict(reduction=32)])
def test_scse_matches_paper_equations(kwargs):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='mmresfam.scSE', in_channels=32, **kwargs))
    x = torch.randn(2, 32, 7, 5)
    with torch.no_grad():
        out = m(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, _reference(m, x), atol=1e-5, rtol=1e-5)


def test_scse_widths():
    m = scSE(64, reduction=16)
    assert m.cse.squeeze_channels == 4            # C // r, no rounding to 8
    assert m.sse.conv.out_channels == 1
    assert sum(p.numel() for p in m.parameters()) == (64 * 4 + 4) + (4 * 64 + 64) + (64 + 1)
    assert scSE(8, reduction=8).cse.squeeze_channels == 1


def test_scse_zeroed_convs_is_identity():
    """Both gates are sigmoid(0) = 0.5 when every conv is zero: x*0.5 + x*0.5 = x."""
    m = scSE(16, reduction=4)
    for p in m.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 16, 4, 3)
    torch.testing.assert_close(m(x), x)
    m.fusion = 'max'   # max(0.5 x, 0.5 x) = 0.5 x
    torch.testing.assert_close(m(x), 0.5 * x)


def test_scse_record_attention():
    torch.manual_seed(0)
    m = scSE(16, reduction=4)
    x = torch.randn(2, 16, 6, 5)
    m(x)
    assert m.last_attention_map is None
    m.record_attention = True
    m(x)
    att = m.last_attention_map
    assert att.shape == (2, 1, 6, 5) and not att.requires_grad
    assert bool(((att > 0) & (att < 1)).all())
    torch.testing.assert_close(att, m.spatial_gate(x))


def test_scse_gradients_and_train_eval():
    torch.manual_seed(0)
    m = scSE(16, reduction=4)
    x = torch.randn(2, 16, 6, 6, requires_grad=True)
    m.train()
    y = m(x)
    y.square().sum().backward()
    assert_grads_reach_every_parameter(m, x)
    m.eval()  # no norm layers: same output in both modes
    torch.testing.assert_close(m(x), y)


def test_scse_as_mmcv_plugin():
    name, layer = build_plugin_layer(dict(type='mmresfam.scSE'), in_channels=64, postfix='')
    assert name == 'scse' and isinstance(layer, scSE)


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=8, reduction=16), r'reduction must be an integer in \[1, 8\]'),
    (dict(in_channels=32, fusion='mul'), "fusion='mul' is not supported"),
    (dict(in_channels=0), 'in_channels must be an integer >= 1'),
])
def test_scse_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scSE(**kwargs)


def test_scse_wrong_input_channels():
    with pytest.raises(ValueError, match='input has 8 channels .* in_channels=16'):
        scSE(16)(torch.randn(2, 8, 4, 4))


@pytest.mark.parametrize('record', [False, True])
def test_scse_compiles_without_graph_breaks(record):
    m = scSE(16, reduction=4)
    assert_compiles_and_records(m, torch.randn(2, 16, 5, 5), record)
