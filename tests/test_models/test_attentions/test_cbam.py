"""Tests of ``mmresfam.CBAM`` (Woo et al., ECCV 2018)."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_plugin_layer

from mmresfam.models.attentions import CBAM
from mmresfam.registry import MODELS
from test_models._helpers import (assert_compiles_and_records,
                                  assert_grads_reach_every_parameter, randomise_bn)


def _reference(m, x):
    """The paper's two equations written out with the module's weights (eval mode)."""
    fc1, fc2 = m.mlp[0].conv, m.mlp[1].conv

    def mlp(v):  # v: (B, C)
        return F.linear(F.relu(F.linear(v, fc1.weight.flatten(1), fc1.bias)),
                        fc2.weight.flatten(1), fc2.bias)

    mc = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))[..., None, None]
    x1 = x * mc
    conv = m.spatial_conv.conv
    s = F.conv2d(torch.cat([x1.mean(1, keepdim=True), x1.amax(1, keepdim=True)], 1),
                 conv.weight, conv.bias, padding=conv.padding)
    if m.spatial_conv.with_norm:
        bn = m.spatial_conv.bn
        s = F.batch_norm(s, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0,
                         bn.eps)
    return x1 * torch.sigmoid(s)


@pytest.mark.parametrize('kwargs', [
    dict(), dict(reduction=4, spatial_kernel=3), dict(spatial_norm_cfg=None),
    dict(mlp_bias=False, reduction=32, min_channels=4)
])
def test_cbam_matches_paper_equations(kwargs):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='mmresfam.CBAM', in_channels=32, **kwargs))
    randomise_bn(m)
    m.eval()
    x = torch.randn(2, 32, 9, 7)
    with torch.no_grad():
        out = m(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, _reference(m, x), atol=1e-5, rtol=1e-5)


def test_cbam_hidden_width_and_params():
    m = CBAM(64, reduction=16)
    assert m.hidden_channels == 4
    # MLP 64*4+4 + 4*64+64, spatial conv 2*7*7 (no bias) + BN 2
    assert sum(p.numel() for p in m.parameters()) == 64 * 4 + 4 + 4 * 64 + 64 + 98 + 2
    assert CBAM(8, reduction=8, min_channels=4).hidden_channels == 4


def test_cbam_gates_in_unit_interval_and_record_attention():
    torch.manual_seed(0)
    m = CBAM(16, reduction=4).eval()
    x = torch.randn(2, 16, 6, 5)
    assert m.record_attention is False
    m(x)
    assert m.last_attention_map is None          # nothing stored by default
    cg = m.channel_gate(x)
    assert cg.shape == (2, 16, 1, 1) and bool(((cg > 0) & (cg < 1)).all())
    m.record_attention = True
    out = m(x)
    att = m.last_attention_map
    assert att.shape == (2, 1, 6, 5) and not att.requires_grad
    assert bool(((att > 0) & (att < 1)).all())
    torch.testing.assert_close(att, m.spatial_gate(x * cg))
    torch.testing.assert_close(out, x * cg * att)


def test_cbam_gradients_and_train_eval():
    torch.manual_seed(0)
    m = CBAM(16, reduction=4)
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    m.train()
    m(x).square().sum().backward()
    assert_grads_reach_every_parameter(m, x)
    bn = m.spatial_conv.bn
    assert bn.num_batches_tracked.item() == 1       # train mode updates the BN statistics
    m.eval()
    with torch.no_grad():
        a, b = m(x), m(x)
    torch.testing.assert_close(a, b)
    assert bn.num_batches_tracked.item() == 1


def test_cbam_as_mmcv_plugin():
    name, layer = build_plugin_layer(dict(type='mmresfam.CBAM'), in_channels=64, postfix='_1')
    assert name == 'cbam_1' and isinstance(layer, CBAM)


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=16, reduction=32), r'reduction must be an integer in \[1, 16\]'),
    (dict(in_channels=0), 'in_channels must be an integer >= 1'),
    (dict(in_channels=16, spatial_kernel=4), 'spatial_kernel must be an odd integer'),
    (dict(in_channels=16, min_channels=0), 'min_channels must be an integer >= 1'),
])
def test_cbam_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CBAM(**kwargs)


def test_cbam_wrong_input_channels():
    with pytest.raises(ValueError, match='input has 8 channels .* in_channels=16'):
        CBAM(16)(torch.randn(2, 8, 4, 4))


@pytest.mark.parametrize('record', [False, True])
def test_cbam_compiles_without_graph_breaks(record):
    m = CBAM(16, reduction=4).eval()
    assert_compiles_and_records(m, torch.randn(2, 16, 5, 5), record)
