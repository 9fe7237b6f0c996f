"""Tests of ``mmresfam.SGE`` (Spatial Group-wise Enhance, Li et al. 2019)."""
import math

import pytest
import torch
from mmcv.cnn import build_plugin_layer

from mmresfam.models.attentions import SGE
from mmresfam.registry import MODELS
from test_models._helpers import assert_compiles_and_records


def _reference(m, x, unbiased=True):
    """Group by group, position by position: the formula of the reference code
    (implus/PytorchInsight ``SpatialGroupEnhance``), whose std over the ``m = H * W`` positions
    divides by ``m - 1``; ``unbiased=False`` divides by ``m`` (the paper's formula)."""
    b, c, h, w = x.shape
    cg = c // m.groups
    out = torch.empty_like(x)
    for g in range(m.groups):
        xg = x[:, g * cg:(g + 1) * cg]                       # (B, C/G, H, W)
        desc = xg.mean(dim=(2, 3))                           # global descriptor per sample
        sim = torch.einsum('bc,bchw->bhw', desc, xg)         # dot product at every position
        flat = sim.flatten(1)
        mean = flat.mean(1)[:, None, None]
        squares = ((flat - flat.mean(1, keepdim=True)) ** 2).sum(1)
        std = (squares / (h * w - (1 if unbiased else 0))).sqrt()[:, None, None]
        norm = (sim - mean) / (std + m.eps)
        gate = torch.sigmoid(norm * m.weight[0, g, 0, 0] + m.bias[0, g, 0, 0])
        out[:, g * cg:(g + 1) * cg] = xg * gate[:, None]
    return out


@pytest.mark.parametrize('channels, groups', [(32, 8), (16, 16), (12, 1), (64, 64)])
def test_sge_matches_reference_formula(channels, groups):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='mmresfam.SGE', in_channels=channels, groups=groups))
    with torch.no_grad():
        m.weight.normal_()
        m.bias.normal_()
    x = torch.randn(2, channels, 7, 6)
    with torch.no_grad():
        out = m(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, _reference(m, x), atol=1e-5, rtol=1e-4)


def test_sge_uses_the_unbiased_std_of_the_reference_code():
    """On a 9x11 map (fp64) SGE equals the reference formula to rounding, and the paper's
    population std would differ measurably (so the comparison can fail)."""
    torch.manual_seed(0)
    m = SGE(32, groups=4).double()
    with torch.no_grad():
        m.weight.normal_()
        m.bias.normal_()
    x = torch.randn(2, 32, 9, 11, dtype=torch.float64)
    with torch.no_grad():
        out = m(x)
    torch.testing.assert_close(out, _reference(m, x), rtol=0, atol=1e-12)
    assert (out - _reference(m, x, unbiased=False)).abs().max() > 1e-3


def test_sge_initial_state_is_sigmoid_one():
    """weight=0, bias=1 (the paper's init): out = x * sigmoid(1) whatever the input."""
    m = SGE(32, groups=4)
    assert torch.equal(m.weight, torch.zeros(1, 4, 1, 1))
    assert torch.equal(m.bias, torch.ones(1, 4, 1, 1))
    assert sum(p.numel() for p in m.parameters()) == 2 * 4
    x = torch.randn(2, 32, 5, 5)
    torch.testing.assert_close(m(x), x / (1 + math.exp(-1)))


def test_sge_one_by_one_map_is_finite():
    """The unbiased std of the reference code is NaN on a 1x1 map; ours gives sigmoid(bias)."""
    m = SGE(8, groups=2)
    with torch.no_grad():
        m.weight.fill_(3.0)
    x = torch.randn(2, 8, 1, 1)
    out = m(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, x * torch.sigmoid(torch.tensor(1.0)))


def test_sge_one_by_one_map_has_finite_gradients():
    m = SGE(8, groups=2)
    with torch.no_grad():
        m.weight.fill_(3.0)
    x = torch.randn(2, 8, 1, 1, requires_grad=True)
    m(x).square().sum().backward()
    grads = [x.grad, m.weight.grad, m.bias.grad]
    assert all(torch.isfinite(g).all() for g in grads)
    assert m.bias.grad.abs().sum() > 0


def test_sge_record_attention():
    torch.manual_seed(0)
    m = SGE(16, groups=4)
    with torch.no_grad():
        m.weight.normal_()
    x = torch.randn(2, 16, 6, 5)
    m(x)
    assert m.last_attention_map is None
    m.record_attention = True
    out = m(x)
    att = m.last_attention_map
    assert att.shape == (2, 4, 6, 5) and not att.requires_grad
    assert bool(((att > 0) & (att < 1)).all())
    torch.testing.assert_close(out, (x.view(2, 4, 4, 6, 5) * att[:, :, None]).view_as(x))


def test_sge_gradients_and_train_eval():
    torch.manual_seed(0)
    m = SGE(16, groups=4)
    with torch.no_grad():
        m.weight.normal_()
    x = torch.randn(2, 16, 6, 6, requires_grad=True)
    m.train()
    y_train = m(x)
    y_train.square().sum().backward()
    assert x.grad.abs().sum() > 0
    assert m.weight.grad.abs().sum() > 0 and m.bias.grad.abs().sum() > 0
    m.eval()  # no state: train and eval agree
    torch.testing.assert_close(m(x), y_train)


def test_sge_as_mmcv_plugin():
    name, layer = build_plugin_layer(dict(type='mmresfam.SGE', groups=8), in_channels=64,
                                     postfix='_x')
    assert name == 'sge_x' and isinstance(layer, SGE) and layer.groups == 8


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=48, groups=64), r'groups must be an integer in \[1, 48\]'),
    (dict(in_channels=96, groups=64), 'in_channels=96 must be divisible by groups=64'),
    (dict(in_channels=16, groups=0), 'groups must be an integer'),
    (dict(in_channels=-1), 'in_channels must be an integer >= 1'),
])
def test_sge_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGE(**kwargs)


def test_sge_wrong_input_channels():
    with pytest.raises(ValueError, match='input has 32 channels .* in_channels=64'):
        SGE(64)(torch.randn(2, 32, 4, 4))


@pytest.mark.parametrize('record', [False, True])
def test_sge_compiles_without_graph_breaks(record):
    m = SGE(16, groups=4)
    assert_compiles_and_records(m, torch.randn(2, 16, 5, 5), record)
