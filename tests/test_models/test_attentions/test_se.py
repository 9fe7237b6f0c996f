"""Tests of ``mmresfam.SE`` (Squeeze-and-Excitation)."""
import pytest
import torch
import torch.nn.functional as F

from mmresfam.models.attentions import SE
from mmresfam.registry import MODELS
from test_models._helpers import assert_grads_reach_every_parameter


def test_registered_with_abbr():
    assert MODELS.get('mmresfam.SE') is SE
    assert SE._abbr_ == 'se'
    assert isinstance(MODELS.build(dict(type='mmresfam.SE', in_channels=32)), SE)


@pytest.mark.parametrize('channels, kwargs, squeeze', [
    (256, dict(), 16),                          # SE-ResNet-50 stage 1
    (2048, dict(), 128),
    (64, dict(), 8),                            # 64 // 16 = 4 -> rounded up to the divisor 8
    (64, dict(divisor=1), 4),
    (96, dict(reduction=4), 24),
    (64, dict(squeeze_channels=5), 5),          # explicit width wins
])
def test_squeeze_width_and_keys(channels, kwargs, squeeze):
    se = SE(channels, **kwargs)
    assert se.squeeze_channels == squeeze
    assert {k: tuple(v.shape) for k, v in se.state_dict().items()} == {
        'conv1.conv.weight': (squeeze, channels, 1, 1), 'conv1.conv.bias': (squeeze, ),
        'conv2.conv.weight': (channels, squeeze, 1, 1), 'conv2.conv.bias': (channels, )}


def test_no_bias():
    assert set(SE(32, bias=False).state_dict()) == {'conv1.conv.weight', 'conv2.conv.weight'}


@pytest.mark.parametrize('gate, fn', [('sigmoid', torch.sigmoid), ('hsigmoid', F.hardsigmoid)])
def test_forward_matches_the_formula(gate, fn):
    torch.manual_seed(0)
    se = SE(16, reduction=4, gate=gate, divisor=1)
    x = torch.randn(2, 16, 5, 7)
    w1, b1 = se.conv1.conv.weight[..., 0, 0], se.conv1.conv.bias
    w2, b2 = se.conv2.conv.weight[..., 0, 0], se.conv2.conv.bias
    s = x.mean(dim=(2, 3))
    weights = fn(F.relu(s @ w1.t() + b1) @ w2.t() + b2)
    with torch.no_grad():
        out = se(x)
        gate_vals = se.channel_weights(x)
    assert out.shape == x.shape
    assert gate_vals.shape == (2, 16, 1, 1)
    assert torch.all((gate_vals >= 0) & (gate_vals <= 1))
    torch.testing.assert_close(out, x * weights[..., None, None])


def test_loads_mmpretrain_selayer_one_to_one():
    from mmpretrain.models.utils import SELayer
    torch.manual_seed(0)
    ref = SELayer(256, ratio=16)
    ours = SE(256, reduction=16)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 256, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-6, rtol=1e-5)


def test_matches_timm_semodule_after_renaming():
    from timm.layers import SEModule
    torch.manual_seed(0)
    ref = SEModule(512, rd_ratio=1 / 16)
    ours = SE(512)
    ours.load_state_dict({k.replace('fc1.', 'conv1.conv.').replace('fc2.', 'conv2.conv.'): v
                          for k, v in ref.state_dict().items()}, strict=True)
    x = torch.randn(2, 512, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-6, rtol=1e-5)


def test_gradients_reach_input_and_every_parameter():
    se = SE(16, reduction=2)
    x = torch.randn(2, 16, 4, 4, requires_grad=True)
    se(x).square().mean().backward()
    assert_grads_reach_every_parameter(se, x)


def test_se_as_mmdet_plugin():
    from mmdet.models.backbones import ResNet as MMDetResNet
    net = MMDetResNet(
        depth=50, out_indices=(3, ), base_channels=16,
        plugins=[dict(cfg=dict(type='mmresfam.SE', reduction=4),
                      stages=(False, True, True, True), position='after_conv3')])
    net.eval()
    assert not hasattr(net.layer1[0], 'se')
    assert net.layer4[0].after_conv3_plugin_names == ['se']    # mmdet names it by _abbr_
    assert isinstance(net.layer4[0].se, SE) and net.layer4[0].se.in_channels == 512
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)


def test_se_compiles_without_graph_breaks():
    se = SE(16, reduction=4)
    se.eval()
    x = torch.randn(2, 16, 5, 5)
    explanation = torch._dynamo.explain(se)(x)
    assert explanation.graph_break_count == 0
    compiled = torch.compile(se, backend='eager', fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), se(x))


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=8, reduction=16), r'reduction must be an integer in \[1, 8\], got 16'),
    (dict(in_channels=8, reduction=0), 'reduction'),
    (dict(in_channels=8, reduction=2, gate='tanh'),
     r"gate='tanh' is not supported; allowed values are \['sigmoid', 'hsigmoid'\]"),
    (dict(in_channels=0), 'in_channels must be an integer >= 1'),
    (dict(in_channels=8, reduction=2, squeeze_channels=0), 'squeeze_channels must be'),
    (dict(in_channels=8, reduction=2, divisor=0), 'divisor'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SE(**kwargs)


def test_wrong_input_channels():
    with pytest.raises(ValueError, match='input has 8 channels but the module was built with '
                                         'in_channels=16'):
        SE(16)(torch.randn(1, 8, 4, 4))
