"""Tests of ``mmresfam.DoubleAttention`` (A2-Nets, Chen et al., NeurIPS 2018)."""
import pytest
import torch
from mmcv.cnn import build_plugin_layer

from mmresfam.models.attentions import DoubleAttention
from mmresfam.registry import MODELS
from test_models._helpers import assert_compiles_and_records, assert_grads_reach_every_parameter


def _reference(m, x):
    """Gather then distribute, one descriptor / one position at a time (paper eqs. 1-5)."""
    b, c, h, w = x.shape
    a = m.conv_a(x).flatten(2)                     # (B, c_m, N)
    bm = m.conv_b(x).flatten(2)                    # (B, c_n, N)
    v = m.conv_v(x).flatten(2)                     # (B, c_n, N)
    out = []
    for k in range(b):
        # gather: descriptor j = sum over positions of A weighted by softmax_positions(B_j)
        g = torch.stack([(a[k] * torch.softmax(bm[k, j], 0)).sum(1)
                         for j in range(m.c_n)], 1)                       # (c_m, c_n)
        # distribute: at position i, mix the descriptors with softmax_descriptors(V[:, i])
        z = torch.stack([g @ torch.softmax(v[k, :, i], 0) for i in range(h * w)], 1)
        out.append(z.view(m.c_m, h, w))
    z = torch.stack(out)
    if m.reconstruct is not None:
        z = m.reconstruct(z)
    return x + z


@pytest.mark.parametrize('kwargs', [
    dict(zero_init=False), dict(c_m=8, c_n=3, zero_init=False),
    dict(c_m=16, reconstruct=False), dict(norm_cfg=None, zero_init=False, c_n=1)
])
def test_a2_matches_paper_equations(kwargs):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='mmresfam.DoubleAttention', in_channels=16, **kwargs)).eval()
    x = torch.randn(2, 16, 5, 4)
    with torch.no_grad():
        out = m(x)
        ref = _reference(m, x)
    assert out.shape == x.shape
    assert not torch.allclose(out, x)          # the block does something
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_a2_softmax_dimensions():
    """Each gather map sums to 1 over the positions, each distribution over the descriptors."""
    torch.manual_seed(0)
    m = DoubleAttention(16, c_m=8, c_n=6)
    x = torch.randn(2, 16, 5, 7)
    gather, distribute = m.attention_maps(x)
    assert gather.shape == distribute.shape == (2, 6, 5, 7)
    torch.testing.assert_close(gather.sum(dim=(2, 3)), torch.ones(2, 6))
    torch.testing.assert_close(distribute.sum(dim=1), torch.ones(2, 5, 7))
    # and not the other way round (the External-Attention implementation's mistake)
    assert not torch.allclose(gather.sum(dim=1), torch.ones(2, 5, 7), atol=1e-2)


def test_a2_defaults_and_params():
    m = DoubleAttention(64)
    assert (m.c_m, m.c_n) == (16, 16)
    # conv_a/b/v: 3 * (64*16+16); reconstruct: 16*64 conv (no bias) + BN 2*64
    assert sum(p.numel() for p in m.parameters()) == 3 * (64 * 16 + 16) + 16 * 64 + 2 * 64
    assert DoubleAttention(2).c_m == 1


def test_a2_starts_as_identity_even_after_init_weights():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 4, 4)
    for norm_cfg in (dict(type='BN'), None):
        m = DoubleAttention(16, norm_cfg=norm_cfg,
                            init_cfg=[dict(type='Kaiming', layer='Conv2d'),
                                      dict(type='Constant', val=1, layer='_BatchNorm')])
        torch.testing.assert_close(m(x), x)
        m.init_weights()
        torch.testing.assert_close(m(x), x)
    m = DoubleAttention(16, zero_init=False)
    assert not torch.allclose(m.eval()(x), x)


def test_a2_record_attention():
    torch.manual_seed(0)
    m = DoubleAttention(16, c_n=4)
    x = torch.randn(2, 16, 6, 5)
    m(x)
    assert m.last_attention_map is None and m.last_distribution_map is None
    m.record_attention = True
    m(x)
    g, d = m.attention_maps(x)
    assert m.last_attention_map.shape == (2, 4, 6, 5) and not m.last_attention_map.requires_grad
    torch.testing.assert_close(m.last_attention_map, g)
    torch.testing.assert_close(m.last_distribution_map, d)


def test_a2_gradients_and_train_eval():
    torch.manual_seed(0)
    m = DoubleAttention(16, zero_init=False)
    x = torch.randn(2, 16, 5, 5, requires_grad=True)
    m.train()
    m(x).square().sum().backward()
    assert_grads_reach_every_parameter(m, x)
    assert m.reconstruct.bn.num_batches_tracked.item() == 1
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m(x), m(x))
    # zero-initialised block: the gradient still reaches the zeroed norm weight
    m = DoubleAttention(16)
    m(x).square().sum().backward()
    assert m.reconstruct.bn.weight.grad.abs().sum() > 0


def test_a2_as_mmcv_plugin():
    name, layer = build_plugin_layer(dict(type='mmresfam.DoubleAttention', c_n=8),
                                     in_channels=64, postfix='_3')
    assert name == 'a2_3' and isinstance(layer, DoubleAttention) and layer.c_n == 8


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=16, c_m=8, reconstruct=False), 'reconstruct=False needs c_m == in_channels'),
    (dict(in_channels=16, c_n=0), 'c_n must be an integer >= 1'),
    (dict(in_channels=16, c_m=-2), 'c_m must be an integer >= 1'),
    (dict(in_channels=0), 'in_channels must be an integer >= 1'),
])
def test_a2_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DoubleAttention(**kwargs)


def test_a2_wrong_input_channels():
    with pytest.raises(ValueError, match='input has 8 channels .* in_channels=16'):
        DoubleAttention(16)(torch.randn(2, 8, 4, 4))


@pytest.mark.parametrize('record', [False, True])
def test_a2_compiles_without_graph_breaks(record):
    m = DoubleAttention(16, zero_init=False).eval()
    assert_compiles_and_records(m, torch.randn(2, 16, 5, 5), record)
